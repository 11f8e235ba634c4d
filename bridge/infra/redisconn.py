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


# redis-py retries a failed command 10 times, backing off to 1 s: about 6 s while Redis is
# down, on every push, past WeChat's 5-second wait. A push's Redis work (the live event, the
# dispatch claim) may be lost instead: the sweep routes the queue. So: a short wait, twice.
RETRY = Retry(ExponentialWithJitterBackoff(base=0.01, cap=0.1), retries=2)


def connect(url: str | None) -> redis.Redis:
    if url:
        return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=1, retry=RETRY)
    import fakeredis

    return fakeredis.FakeRedis(server=embedded_server())


def init_app(app: Flask) -> None:
    app.extensions["redis"] = connect(app.config["REDIS_URL"])
