"""The live-event publisher: written without waiting for Redis, and back after Redis drops it."""
from __future__ import annotations

import redis

from bridge.events import Publisher


def test_publisher_sends_without_replies_and_replaces_a_connection_the_server_closed(real_redis_url):
    client = redis.Redis.from_url(real_redis_url)
    publisher = Publisher(client)
    listener = client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe("kefu-test-events")
    listener.get_message(timeout=1)
    try:
        publisher.publish("kefu-test-events", "one")
        assert listener.get_message(timeout=2)["data"] == b"one"
        host, port = publisher._conn._sock.getsockname()[:2]
        [mine] = [c for c in client.client_list() if c["addr"] == f"{host}:{port}"]
        assert "r" not in mine.get("flags", "")  # replies off: Redis writes nothing back
        assert not publisher._conn.can_read()

        client.client_kill_filter(_id=mine["id"])  # as a Redis restart would
        for n in range(3):
            publisher.publish("kefu-test-events", f"after-{n}")
        got = [listener.get_message(timeout=2) for _ in range(3)]
        assert [m["data"] for m in got if m] == [b"after-0", b"after-1", b"after-2"]
    finally:
        listener.close()
        client.close()


def test_the_in_process_stand_in_publishes_directly():
    import fakeredis

    assert not Publisher.supported(fakeredis.FakeRedis())
    assert Publisher.supported(redis.Redis())
