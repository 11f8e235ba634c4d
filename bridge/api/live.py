"""GET /api/v1/events: Server-Sent Events for the agent, fed by the shop's Redis channel."""
from __future__ import annotations

from flask import Response, current_app, request, stream_with_context

from bridge import events
from bridge.api import bp
from bridge.api.auth import current_agent, login_required


@bp.get("/events")
@login_required
def event_stream():
    agent = current_agent()
    limit = request.args.get("max_seconds", type=float) if current_app.testing else None
    frames = events.stream(current_app.extensions["redis"], agent.shop_id, agent.id,
                           agent.role == "admin", max_seconds=limit)
    return Response(stream_with_context(frames), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
