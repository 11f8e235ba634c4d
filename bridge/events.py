"""Live events for agents: published on the shop's Redis channel, streamed as Server-Sent Events.

Any web process can serve any agent: every process subscribes to the shop's channel and
filters by what the agent may see (its own conversations and the queue; admins: everything).
A Redis message is one commit's events as a JSON list; each becomes its own SSE event.
"""
from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import redis

from bridge.redisconn import shop_key

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15


def channel_name(shop_id: int) -> str:
    return shop_key(shop_id, "events")


class Publisher:
    """PUBLISH without waiting: one connection per process with Redis's replies turned off
    (`CLIENT REPLY OFF`), so a commit's events cost one socket write and no round trip.

    Every push publishes, and waiting for Redis to answer "n subscribers" was a fifth of a
    webhook worker's time. Nothing is lost by not reading it: a publish that fails is a
    missed live update (an agent's list refreshes on the next event), as before. A
    connection the server has closed is replaced before it is written to.
    """

    def __init__(self, client: redis.Redis):
        self._pool = client.connection_pool
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
        client.publish(channel_name(shop_id), json.dumps(shop_events, ensure_ascii=False))
    except redis.RedisError:
        log.warning("shop %s: could not publish %d events", shop_id, len(shop_events))


def visible(event: dict[str, Any], agent_id: int, is_admin: bool) -> bool:
    return is_admin or event.get("agent_id") == agent_id or event.get("queue", False)


def stream(client: redis.Redis, shop_id: int, agent_id: int, is_admin: bool,
           max_seconds: float | None = None) -> Iterator[str]:
    """SSE frames for one agent until the client goes away (or max_seconds, for tests)."""
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(channel_name(shop_id))
    started = last_beat = time.monotonic()
    try:
        yield ": connected\n\n"
        while max_seconds is None or time.monotonic() - started < max_seconds:
            message = pubsub.get_message(timeout=1.0)
            if message and message.get("type") == "message":
                for event in json.loads(message["data"]):
                    if visible(event, agent_id, is_admin):
                        yield f"event: {event['type']}\ndata: {json.dumps(event, ensure_ascii=False)}\n\n"
            elif time.monotonic() - last_beat > HEARTBEAT_SECONDS:
                last_beat = time.monotonic()
                yield ": heartbeat\n\n"
    finally:
        pubsub.close()
