"""GET /api/v1/events: Server-Sent Events for the agent, read from the shop's event log.

A stream first takes its slots (events/slots.py: per agent, per address, per process) or is
refused with 429/503 and Retry-After; it resumes after `Last-Event-ID` (events/log.py).
"""
from __future__ import annotations

import select
import socket
from collections.abc import Callable
from datetime import datetime, timezone

import redis
from flask import Blueprint, Flask, Response, current_app, request, stream_with_context

from bridge.accounts import presence
from bridge.events import log as event_log
from bridge.events import slots
from bridge.events.stream import WAIT_MS, stream
from bridge.infra import db
from bridge.infra.redisconn import connect_for_streams
from bridge.web.api.auth import current_agent, current_login, current_viewer, login_required
from bridge.web.api.errors import APIError

bp = Blueprint("live", __name__)


@bp.get("/events")
@login_required
def event_stream():
    if request.method == "HEAD":  # answered without a body, so never streamed: it takes no slot
        return Response(mimetype="text/event-stream", headers={"Cache-Control": "no-cache"})
    limit = request.args.get("max_seconds", type=float) if current_app.testing else None
    app, viewer = current_app._get_current_object(), current_viewer()
    shop_id, login_id, agent_id = current_login().shop_id, current_login().id, current_agent().id
    client = streams_client(app)
    try:
        lease = slots.take(client, app.extensions["stream_slots"], shop_id, agent_id,
                           request.remote_addr or "", app.config["STREAMS_PER_AGENT"],
                           app.config["STREAMS_PER_ADDRESS"])
    except slots.Refused as refused:
        raise APIError(refused.status, refused.code, refused.message,
                       headers={"Retry-After": str(slots.RETRY_AFTER_SECONDS)})
    except redis.RedisError:
        raise unavailable()
    try:
        start = event_log.resume(client, shop_id, last_event_id())
    except redis.RedisError:
        lease.release()
        raise unavailable()

    def beat() -> bool:
        """The open stream is its client heard from, each in a short transaction of its own."""
        lease.renew()
        with db.new_session(app) as session:
            return presence.beat(session, shop_id, login_id, datetime.now(timezone.utc), presence.timeout())

    def frames():
        try:
            yield from stream(client, viewer, start, max_seconds=limit, beat=beat,
                              gone=client_gone(request.environ))
        finally:
            lease.release()

    db.session().rollback()  # the stream holds no transaction (on SQLite each one holds the writer lock)
    return Response(stream_with_context(frames()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def last_event_id() -> str | None:
    """The browser's own reconnect sends the header; a page that starts a new EventSource
    itself (after a refusal ends the old one) can only name it in the query."""
    return request.headers.get("Last-Event-ID") or request.args.get("last_event_id")


def unavailable() -> APIError:
    return APIError(503, "events_unavailable", "live events are unavailable right now; try again",
                    headers={"Retry-After": str(slots.RETRY_AFTER_SECONDS)})


def streams_client(app: Flask) -> redis.Redis:
    """A client whose reads may wait for the log (the web's own gives up after 0.3 s)."""
    if "redis_streams" not in app.extensions:
        app.extensions["redis_streams"] = connect_for_streams(app.extensions["redis"], WAIT_MS / 1000)
    return app.extensions["redis_streams"]


def client_gone(environ: dict) -> Callable[[], bool]:
    """Whether the client has closed its end: its socket reads as ended. The servers hand
    their socket over (gunicorn, werkzeug); without one, the next failed write tells."""
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    if not isinstance(sock, socket.socket):
        return lambda: False

    def gone() -> bool:
        try:
            readable, _, _ = select.select([sock], [], [], 0)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
    return gone
