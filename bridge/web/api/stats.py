"""GET /api/v1/stats: each agent's service figures over a period (admins only)."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from bridge.conversations import lifecycle
from bridge.infra import db
from bridge.models import Agent, Conversation, Message
from bridge.web.api.auth import current_agent, login_required
from bridge.web.api.errors import APIError

bp = Blueprint("stats", __name__)


def _since() -> datetime:
    raw = request.args.get("since")
    if raw is None:
        return datetime.now(timezone.utc) - timedelta(days=1)
    try:
        since = datetime.fromisoformat(raw)
    except ValueError:
        raise APIError(400, "bad_request", "since must be an ISO-8601 time") from None
    return since if since.tzinfo else since.replace(tzinfo=timezone.utc)


@bp.get("/stats")
@login_required
def agent_stats():
    agent = current_agent()
    if agent.role != "admin":
        raise APIError(403, "forbidden", "stats are for admins")
    since, session = _since(), db.session()
    conversations = session.scalars(select(Conversation).where(
        Conversation.shop_id == agent.shop_id, Conversation.assigned_at >= since)).all()
    answered = session.execute(
        select(Conversation.agent_id, Conversation.assigned_at, Message.created_at, Message.responded_at)
        .join(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.shop_id == agent.shop_id, Conversation.assigned_at >= since,
               Message.direction == "in", Message.responded_at.is_not(None))).all()
    per = defaultdict(lambda: {"conversations": 0, "first_response": [], "answered": 0, "fast": 0, "ratings": []})
    for c in conversations:
        row = per[c.agent_id]
        row["conversations"] += 1
        if c.first_response_at:
            row["first_response"].append((c.first_response_at - c.assigned_at).total_seconds())
        if c.rating_score:
            row["ratings"].append(c.rating_score)
    for agent_id, assigned_at, created, responded in answered:
        per[agent_id]["answered"] += 1
        per[agent_id]["fast"] += lifecycle.reply_seconds(created, responded, assigned_at) <= lifecycle.FAST_REPLY_SECONDS
    names = dict(session.execute(select(Agent.id, Agent.username).where(Agent.shop_id == agent.shop_id)).all())
    items = []
    for agent_id, row in sorted(per.items(), key=lambda kv: names.get(kv[0], "")):
        firsts, ratings = row["first_response"], row["ratings"]
        items.append({
            "agent": names.get(agent_id), "conversations": row["conversations"],
            "avg_first_response_seconds": round(sum(firsts) / len(firsts), 1) if firsts else None,
            "messages_answered": row["answered"],
            "response_rate_3min": round(row["fast"] / row["answered"], 4) if row["answered"] else None,
            "ratings": len(ratings), "avg_rating": round(sum(ratings) / len(ratings), 2) if ratings else None,
        })
    return jsonify({"since": since.isoformat(), "items": items})
