"""Live events for agents: published on the shop's Redis channel, streamed as Server-Sent Events.

Any web process can serve any agent: every process subscribes to the shop's channel and
filters by what the agent may see (its own conversations and the queue; admins: everything).
A Redis message is one commit's events as a JSON list; each becomes its own SSE event.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import redis

from bridge.redisconn import shop_key

log = logging.getLogger(__name__)
HEARTBEAT_SECONDS = 15


def channel_name(shop_id: int) -> str:
    return shop_key(shop_id, "events")


def publish(client: redis.Redis | redis.client.Pipeline, shop_id: int,
            shop_events: list[dict[str, Any]]) -> None:
    """One message carrying a list of the shop's events. Fire and forget: a lost event costs
    a refresh, never a message. With a pipeline, the caller's `execute()` sends it."""
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
