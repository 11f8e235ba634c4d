"""The agent's own status and capacity, and the shop's agents (for transfers and admins)."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, jsonify
from sqlalchemy import func, select

from bridge.accounts import presence
from bridge.conversations import assignment, lifecycle
from bridge.infra import db
from bridge.models import Agent, Conversation
from bridge.web.api.auth import current_agent, login_required
from bridge.web.api.errors import invalid
from bridge.web.api.shapes import agent_json, json_body

bp = Blueprint("agents", __name__)

STATUSES = ("online", "busy", "offline")


@bp.get("/me")
@login_required
def me():
    return jsonify(_me(current_agent(), datetime.now(timezone.utc)))


def _me(agent: Agent, now: datetime) -> dict:
    """The agent as the API shows agents, with how many conversations it serves now (the
    inbox's 接待中 n/m)."""
    seen = presence.last_seen(db.session(), agent.shop_id, agent.id).get(agent.id)
    serving = db.session().scalar(select(func.count()).select_from(Conversation).where(
        Conversation.shop_id == agent.shop_id, Conversation.agent_id == agent.id, Conversation.state == "active"))
    return {**agent_json(agent, presence.state(seen, now, presence.timeout()), seen), "active_conversations": serving}


@bp.patch("/me")
@login_required
def update_me():
    body = json_body()
    unknown = set(body) - {"status", "max_concurrent", "force"}
    if unknown:
        raise invalid(f"unknown field {sorted(unknown)[0]!r}")
    status, capacity, force = body.get("status"), body.get("max_concurrent"), body.get("force", False)
    if status is not None and status not in STATUSES:
        raise invalid(f"status must be one of {', '.join(STATUSES)}")
    if capacity is not None and (isinstance(capacity, bool) or not isinstance(capacity, int)
                                 or not 1 <= capacity <= 50):
        raise invalid("max_concurrent must be a whole number from 1 to 50")
    if not isinstance(force, bool):
        raise invalid("force must be true or false")
    now = datetime.now(timezone.utc)
    agent = lifecycle.set_status(db.session(), current_agent(), now,
                                 status=status, max_concurrent=capacity, force=force)
    return jsonify(_me(agent, now))


@bp.get("/agents")
@login_required
def list_agents():
    shop_id, now, limit = current_agent().shop_id, datetime.now(timezone.utc), presence.timeout()
    loads = assignment.active_loads(db.session(), shop_id)
    seen = presence.last_seen(db.session(), shop_id)
    agents = db.session().scalars(select(Agent).where(Agent.shop_id == shop_id, Agent.active.is_(True))
                                  .order_by(Agent.username)).all()
    return jsonify({"items": [
        {**agent_json(a, presence.state(seen.get(a.id), now, limit), seen.get(a.id)),
         "active_conversations": loads.get(a.id, 0)} for a in agents]})
