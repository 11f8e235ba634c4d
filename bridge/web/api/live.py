"""GET /api/v1/events: Server-Sent Events for the agent, fed by the shop's Redis channel."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response, current_app, request, stream_with_context

from bridge.accounts import presence
from bridge.events.stream import stream
from bridge.infra import db
from bridge.web.api.auth import current_login, current_viewer, login_required

bp = Blueprint("live", __name__)


@bp.get("/events")
@login_required
def event_stream():
    limit = request.args.get("max_seconds", type=float) if current_app.testing else None
    app, viewer = current_app._get_current_object(), current_viewer()
    shop_id, login_id = current_login().shop_id, current_login().id

    def beat() -> bool:
        """The open stream is its client heard from, each in a short transaction of its own."""
        with db.new_session(app) as session:
            return presence.beat(session, shop_id, login_id, datetime.now(timezone.utc), presence.timeout())

    db.session().rollback()  # the stream holds no transaction (on SQLite each one holds the writer lock)
    frames = stream(current_app.extensions["redis"], viewer, max_seconds=limit, beat=beat)
    return Response(stream_with_context(frames), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
