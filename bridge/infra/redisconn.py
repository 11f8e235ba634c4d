"""The Redis connection: real Redis from REDIS_URL, else the embedded in-process stand-in."""
from __future__ import annotations

import threading

import redis
from flask import Flask
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

_embedded_server = None
_embedded_lock = threading.Lock()


def embedded_server():
    """One fakeredis server per process, shared by the web threads and the worker."""
    global _embedded_server
    with _embedded_lock:
        if _embedded_server is None:
            import fakeredis

            _embedded_server = fakeredis.FakeServer()
        return _embedded_server


# Every call's wait is bounded, and only a refused or dropped connection is tried again (a
# pooled connection a restarted Redis closed; a refusal comes back at once). A call that
# times out is not: a frozen Redis would make each retry wait as long again.
RETRY = Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=2,
              supported_errors=(redis.ConnectionError,))

# The web path: a push's Redis work (the replay check, the live event, the dispatch claim) is
# a few calls, each given up after this long, so a frozen Redis costs a push about a second,
# well inside WeChat's 5 s; what was lost the sweep makes up (jobs/sweep.py).
WEB_TIMEOUT = 0.3
# Workers: seconds, not RQ's own 415 s (processes/worker.py keeps RQ from raising it).
WORKER_TIMEOUT = 5.0
WORKER_CONNECT_TIMEOUT = 2.0


def connect(url: str | None, timeout: float = WEB_TIMEOUT) -> redis.Redis:
    if url:
        return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout, retry=RETRY)
    import fakeredis

    return fakeredis.FakeRedis(server=embedded_server())


# Every open stream waits in a blocking read on a connection of its own, so a process holds as
# many as it has streams open; the streams' own limits (events/slots.py: STREAMS_PER_PROCESS, up
# to 100,000, and a gevent worker's connections) bound them, not the pool. redis-py's pool
# refuses past 100 by default (MaxConnectionsError): the 101st widget stream of a gevent worker
# answered 503 `unavailable` (bench/widget_streams.py).
STREAM_CONNECTIONS = 100_000


def connect_for_streams(client: redis.Redis, wait_seconds: float) -> redis.Redis:
    """A client like CLIENT whose reads may block for WAIT_SECONDS (an event stream waiting
    on the log) before its socket gives up, with a connection for every stream the process may
    hold; the stand-in has no sockets to time out."""
    if type(client) is not redis.Redis:
        return client
    kwargs = dict(client.connection_pool.connection_kwargs, socket_timeout=wait_seconds + 2)
    pool = redis.ConnectionPool(connection_class=client.connection_pool.connection_class,
                                max_connections=STREAM_CONNECTIONS, **kwargs)
    return redis.Redis(connection_pool=pool)


def use_worker_timeouts(client: redis.Redis) -> None:
    """Give the app's client (its queue and publisher share it) a worker's timeouts: a job's
    Redis call may wait a few seconds; no push is waiting on it."""
    client.connection_pool.connection_kwargs.update(
        socket_timeout=WORKER_TIMEOUT, socket_connect_timeout=WORKER_CONNECT_TIMEOUT)
    client.connection_pool.disconnect()  # none made with the web's timeouts is reused


def init_app(app: Flask) -> None:
    app.extensions["redis"] = connect(app.config["REDIS_URL"], app.config["REDIS_WEB_TIMEOUT"])
