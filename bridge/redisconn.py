"""The Redis connection: real Redis from REDIS_URL, else the embedded in-process stand-in."""
from __future__ import annotations

import threading

import redis
from flask import Flask, current_app

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


def connect(url: str | None) -> redis.Redis:
    if url:
        return redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5)
    import fakeredis

    return fakeredis.FakeRedis(server=embedded_server())


def init_app(app: Flask) -> None:
    app.extensions["redis"] = connect(app.config["REDIS_URL"])


def get() -> redis.Redis:
    return current_app.extensions["redis"]


def shop_key(shop_id: int, *parts: object) -> str:
    """A key in the shop's hash slot, so Redis Cluster can shard by shop."""
    return ":".join([f"{{shop:{shop_id}}}", *map(str, parts)])
