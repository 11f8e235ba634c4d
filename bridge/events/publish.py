"""Publishing live events into the shop's event log (events/log.py): one write per commit, not waited for."""
from __future__ import annotations

import logging
import os
import threading
from typing import Any

import redis
from flask import Flask

from bridge.events import log as event_log

log = logging.getLogger(__name__)


class Publisher:
    """XADD without waiting: one connection per process with Redis's replies turned off
    (`CLIENT REPLY OFF`), so a commit's events cost one socket write and no round trip.

    Every push publishes, and waiting for Redis's answer was a fifth of a webhook worker's
    time. Nothing is lost by not reading it: a write that fails is a missed live update (an
    agent's list refreshes on the next event). A connection the server has closed is
    replaced before it is written to.
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

    def send(self, *commands: tuple) -> None:
        """Write COMMANDS in one go; nothing is read back."""
        with self._lock:
            try:
                conn = self._connection()
                conn.send_packed_command(conn.pack_commands(commands), check_health=False)
            except (redis.RedisError, OSError):
                self._drop()
                raise redis.ConnectionError("could not write to Redis")

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
    """Append the shop's events to its log, each its own entry (its id the event's id). Fire
    and forget: a lost event costs a refresh, never a message. Through a `Publisher` nothing
    waits for Redis."""
    try:
        if isinstance(client, Publisher):
            client.send(*(event_log.xadd_command(shop_id, event) for event in shop_events))
        else:
            event_log.append(client, shop_id, shop_events)
    except redis.RedisError:
        log.warning("shop %s: could not publish %d events", shop_id, len(shop_events))


def init_app(app: Flask) -> None:
    """Live events are published without waiting for Redis's answer where Redis can be told
    not to give one; the in-process stand-in answers in-process anyway."""
    client = app.extensions["redis"]
    app.extensions["events_publisher"] = Publisher(client) if Publisher.supported(client) else client
