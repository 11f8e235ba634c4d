"""Live events as Server-Sent Events: any web process serves any viewer.

Every stream reads its shop's event log (events/log.py) and passes on the events its viewer
may see (bridge/visibility.py), each with its id, until the client goes away. A client that
comes back with `Last-Event-ID` gets what it missed, once; if that is gone from the log it
gets a `reset` event (reload what you show) instead.

The first frame is `ready`, carrying the log's position as its id, so even a client that
heard nothing yet resumes from where it started. Ids of events the viewer may not see are
passed on bare (an `id:` line alone, which sets the client's last id and shows nothing) with
the heartbeat, so a quiet viewer of a busy shop does not fall behind the log.

Events are passed on a read at a time: what one read of the log found goes out in one write,
and after a read that found anything the stream waits COALESCE_SECONDS before the next. A read
costs about 0.2 ms of CPU whatever it returns; 50 agents' streams each reading at every event
of a shop taking 100 messages a second wanted a whole core of a 2-core machine, and the delay
came from that queue for the CPU (bench/inbox_live.py). The first event after a quiet spell
still goes out at once; the ones behind it wait at most COALESCE_SECONDS more.

An open stream is its client being there: every HEARTBEAT_SECONDS it calls `beat`, and ends
once that answers False (the login was signed out). A client that closed its connection is
noticed within a second (`gone`), not at the next heartbeat's failed write.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator

import redis

from bridge.events import log as event_log
from bridge.visibility import Viewer, sees_event

HEARTBEAT_SECONDS = 15
WAIT_MS = 1000  # each read of the log waits this long for an event
RECONNECT_MS = 2000  # what the client's EventSource waits before it reconnects
COALESCE_SECONDS = 0.025  # after a read that found events: at most 40 reads a second per stream

logger = logging.getLogger(__name__)


def frame(event_type: str, data: dict, event_id: str | None = None) -> str:
    head = f"id: {event_id}\n" if event_id else ""
    return f"{head}event: {event_type}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def stream(client: redis.Redis, viewer: Viewer, start: event_log.Resume,
           max_seconds: float | None = None,
           beat: Callable[[], bool] | None = None,
           gone: Callable[[], bool] = lambda: False,
           clock: Callable[[], float] = time.monotonic,
           pause: Callable[[float], None] = time.sleep) -> Iterator[str]:
    """SSE frames for one viewer from START until the client goes away (or max_seconds, for
    tests, with their own CLOCK and PAUSE). CLIENT's reads may wait WAIT_MS (its socket timeout
    must be longer)."""
    position = told = start.position
    started = last_beat = clock()
    yield f"retry: {RECONNECT_MS}\n: connected\n\n"
    if start.gap:
        yield frame("reset", {"type": "reset", "reason": "missed events are no longer kept"}, position)
    else:
        yield frame("ready", {"type": "ready"}, position)
    while max_seconds is None or clock() - started < max_seconds:
        try:
            entries = event_log.read(client, viewer.shop_id, position, block_ms=WAIT_MS)
        except redis.RedisError:
            logger.warning("shop %s: event log unreadable; the stream ends (its client resumes)",
                           viewer.shop_id)
            return
        shown_frames = []
        for event_id, event in entries:
            position = event_id
            if sees_event(viewer, event):
                shown = {k: v for k, v in event.items() if k != "audience"}  # whom: ours alone
                shown_frames.append(frame(event["type"], shown, event_id))
                told = event_id
        if shown_frames:
            yield "".join(shown_frames)
        if gone():
            return
        if clock() - last_beat >= HEARTBEAT_SECONDS:  # busy or quiet alike
            last_beat = clock()
            yield (f"id: {position}\n\n" if position != told else "") + ": heartbeat\n\n"
            told = position
            if beat is not None and not beat():
                return
        if entries:
            pause(COALESCE_SECONDS)  # let the next events gather: one read for several
