"""GET /api/v1/events: Server-Sent Events for the agent, fed by the shop's Redis channel."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, request, stream_with_context

from bridge.events.stream import stream
from bridge.web.api.auth import current_viewer, login_required

bp = Blueprint("live", __name__)


@bp.get("/events")
@login_required
def event_stream():
    limit = request.args.get("max_seconds", type=float) if current_app.testing else None
    frames = stream(current_app.extensions["redis"], current_viewer(), max_seconds=limit)
    return Response(stream_with_context(frames), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
