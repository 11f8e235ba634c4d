"""GET /widget/<key>/events: the shopper's live feed (adapters/widget/feed.py) as Server-Sent Events.

Each open widget waits on its own shopper's feed, so an idle one costs a blocked read and
nothing else. Served by an async worker (gevent; README, Production) a stream is a greenlet,
not a thread: thousands of open widgets fit in one process. A reconnect names the last id it
saw (`Last-Event-ID`, or `?last_event_id=` where headers cannot be set) and gets what it
missed once; if that is no longer kept it gets `reset`, and reloads the state.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterator

import redis
from flask import Blueprint, Response, current_app, g, request, stream_with_context

from bridge import keys
from bridge.events import slots
from bridge.infra.redisconn import connect_for_streams
from bridge.web.api.errors import APIError
from bridge.web.widget import guard

bp = Blueprint("widget_live", __name__)
HEARTBEAT_SECONDS = 15
RECONNECT_MS = 2000
STREAMS_PER_SHOPPER = 10  # tabs of one shopper
log = logging.getLogger(__name__)


@bp.get("/<channel_key>/events")
def events(channel_key: str) -> Response:
    if request.method == "HEAD":  # answered without a body, so never streamed: it takes no slot
        return Response(mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})
    channel, who = g.widget_channel, guard.visitor(g.widget_channel, token_in_query=True)
    app = current_app._get_current_object()
    limit = request.args.get("max_seconds", type=float) if app.testing else None
    client = _client(app)
    shopper = hashlib.sha256(who.shopper_id.encode()).hexdigest()[:24]
    try:
        lease = slots.take_each(client, app.extensions["stream_slots"], [
            (keys.streams_of_visitor(channel.shop_id, channel.id, shopper), STREAMS_PER_SHOPPER, "this shopper"),
            (keys.widget_streams_of_address(guard.address()), app.config["STREAMS_PER_ADDRESS"], "this address")])
    except slots.Refused as refused:
        raise APIError(refused.status, refused.code, refused.message,
                       headers={"Retry-After": str(slots.RETRY_AFTER_SECONDS)})
    except redis.RedisError:
        raise _unavailable()
    adapter = guard.adapter()
    try:
        start = adapter.feed_resume(client, who.shopper_id,
                                    request.headers.get("Last-Event-ID") or request.args.get("last_event_id"))
    except redis.RedisError:
        lease.release()
        raise _unavailable()

    def frames() -> Iterator[str]:
        try:
            yield from _stream(lambda after, wait_ms: adapter.feed_read(client, who.shopper_id, after, wait_ms),
                               start, lease, limit)
        finally:
            lease.release()

    return Response(stream_with_context(frames()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def _stream(read: Callable[[str, int], list[tuple[str, str, dict]]], start, lease: slots.Lease,
            limit: float | None) -> Iterator[str]:
    """The frames from START (a resume: position, gap) on; READ(after, wait_ms) reads the feed."""
    position = start.position
    started = renewed = time.monotonic()
    yield f"retry: {RECONNECT_MS}\n: connected\n\n"
    yield _frame("reset" if start.gap else "ready", {}, position)
    wait_ms = int((min(limit, HEARTBEAT_SECONDS) if limit else HEARTBEAT_SECONDS) * 1000)
    while limit is None or time.monotonic() - started < limit:
        try:
            entries = read(position, wait_ms)
        except redis.RedisError:
            log.warning("a widget feed is unreadable; the stream ends (its widget resumes)")
            return
        # Every beat, busy or idle: a feed that never falls quiet for a beat (a chat with typing
        # on and off) would let its slots lapse, and the stream would no longer count.
        if time.monotonic() - renewed >= HEARTBEAT_SECONDS:
            lease.renew()
            renewed = time.monotonic()
        if not entries:
            yield ": heartbeat\n\n"
            continue
        out = []
        for entry_id, event_type, data in entries:
            position = entry_id
            out.append(_frame(event_type, data, entry_id))
        yield "".join(out)


def _frame(event_type: str, data: dict, event_id: str) -> str:
    return f"id: {event_id}\nevent: {event_type}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _client(app) -> redis.Redis:
    """Reads that wait up to a heartbeat for the feed (the web's own client gives up sooner)."""
    if "redis_widget_streams" not in app.extensions:
        app.extensions["redis_widget_streams"] = connect_for_streams(app.extensions["redis"], HEARTBEAT_SECONDS)
    return app.extensions["redis_widget_streams"]


def _unavailable() -> APIError:
    return APIError(503, "unavailable", "live messages are unavailable right now; try again",
                    headers={"Retry-After": str(slots.RETRY_AFTER_SECONDS)})
