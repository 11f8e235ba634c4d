"""Live events as Server-Sent Events: any web process serves any viewer.

Every stream subscribes to its shop's Redis channel and passes on the events its viewer may
see (bridge/visibility.py), until the client goes away. An open stream is its client being
there: every HEARTBEAT_SECONDS it calls `beat`, and ends once that answers False (the login
was signed out).
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import redis

from bridge import keys
from bridge.visibility import Viewer, sees_event

HEARTBEAT_SECONDS = 15


def stream(client: redis.Redis, viewer: Viewer, max_seconds: float | None = None,
           beat: Callable[[], bool] | None = None,
           clock: Callable[[], float] = time.monotonic) -> Iterator[str]:
    """SSE frames for one viewer until the client goes away (or max_seconds, for tests)."""
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(keys.events_channel(viewer.shop_id, client))
    started = last_beat = last_seen = clock()
    try:
        yield ": connected\n\n"
        while max_seconds is None or clock() - started < max_seconds:
            message = pubsub.get_message(timeout=1.0)
            if message and message.get("type") == "message":
                for event in json.loads(message["data"]):
                    if sees_event(viewer, event):
                        shown = {k: v for k, v in event.items() if k != "audience"}  # whom: ours alone
                        yield f"event: {event['type']}\ndata: {json.dumps(shown, ensure_ascii=False)}\n\n"
            elif clock() - last_beat > HEARTBEAT_SECONDS:
                last_beat = clock()
                yield ": heartbeat\n\n"
            if beat is not None and clock() - last_seen >= HEARTBEAT_SECONDS:  # busy or quiet alike
                last_seen = clock()
                if not beat():
                    return
    finally:
        pubsub.close()
