"""Publishing live events on the shop's Redis channel: one message per commit, not waited for."""
from __future__ import annotations

import json
import logging
import os
import threading
from typing import Any

import redis
from flask import Flask

from bridge import keys

log = logging.getLogger(__name__)


class Publisher:
    """PUBLISH without waiting: one connection per process with Redis's replies turned off
    (`CLIENT REPLY OFF`), so a commit's events cost one socket write and no round trip.

    Every push publishes, and waiting for Redis to answer "n subscribers" was a fifth of a
    webhook worker's time. Nothing is lost by not reading it: a publish that fails is a
    missed live update (an agent's list refreshes on the next event), as before. A
    connection the server has closed is replaced before it is written to.
    """

    def __init__(self, client: redis.Redis):
        self._pool = self.connection_pool = client.connection_pool  # the channel's db (keys)
        self._conn: redis.connection.AbstractConnection | None = None
        self._pid = 0
        self._lock = threading.Lock()  # threaded servers share the one connection

    @staticmethod
    def supported(client: redis.Redis) -> bool:
        """Real Redis only: the in-process stand-in has no CLIENT REPLY (nor the round trip)."""
        return type(client) is redis.Redis

    def publish(self, channel: str, message: str) -> None:
        with self._lock:
            try:
                conn = self._connection()
                conn.send_packed_command(conn.pack_command("PUBLISH", channel, message),
                                         check_health=False)
            except (redis.RedisError, OSError):
                self._drop()
                raise redis.ConnectionError(f"could not publish on {channel}")

    def _connection(self) -> redis.connection.AbstractConnection:
        if self._conn is not None and self._pid == os.getpid():
            try:  # replies are off: anything to read is the server closing it (a restart)
                if not self._conn.can_read():
                    return self._conn
            except redis.ConnectionError:
                pass
            self._drop()
        if self._conn is None or self._pid != os.getpid():  # a forked child makes its own
            conn = self._pool.connection_class(**self._pool.connection_kwargs)  # the app's settings
            conn.connect()
            conn.send_command("CLIENT", "REPLY", "OFF")  # no reply, to this or anything after
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None and self._pid == os.getpid():
            self._conn.disconnect()
        self._conn = None


def publish(client: redis.Redis | Publisher, shop_id: int, shop_events: list[dict[str, Any]]) -> None:
    """One message carrying a list of the shop's events. Fire and forget: a lost event costs
    a refresh, never a message. Through a `Publisher` nothing waits for Redis."""
    try:
        client.publish(keys.events_channel(shop_id, client), json.dumps(shop_events, ensure_ascii=False))
    except redis.RedisError:
        log.warning("shop %s: could not publish %d events", shop_id, len(shop_events))


def init_app(app: Flask) -> None:
    """Live events are published without waiting for Redis's answer where Redis can be told
    not to give one; the in-process stand-in answers in-process anyway."""
    client = app.extensions["redis"]
    app.extensions["events_publisher"] = Publisher(client) if Publisher.supported(client) else client
