"""A process's live streams each hold a Redis connection while they wait: the streams' client
must hand out as many as the process has streams, past redis-py's default pool of 100.

Before, the 101st open widget stream of a gevent worker answered 503 `unavailable`
(MaxConnectionsError; bench/widget_streams.py), and an agents' stream process with
STREAMS_PER_PROCESS=450 could hold only 100.
"""
from __future__ import annotations

from bridge.infra.redisconn import connect, connect_for_streams


def test_the_streams_client_holds_more_than_a_hundred_connections_at_once(real_redis_url):
    pool = connect_for_streams(connect(real_redis_url), 1).connection_pool
    held = []
    try:
        for _ in range(150):
            held.append(pool.get_connection())
        assert len({id(c) for c in held}) == 150
    finally:
        for conn in held:
            pool.release(conn)
        pool.disconnect()
