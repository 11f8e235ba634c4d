"""GET /api/v1/stats: each agent's service figures over a period (admins only)."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta, timezone

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from bridge.conversations import lifecycle
from bridge.infra import db
from bridge.models import Agent, Assignment, Conversation, Message
from bridge.web.api.auth import current_agent, login_required
from bridge.web.api.errors import APIError

bp = Blueprint("stats", __name__)


def _since() -> datetime:
    raw = request.args.get("since")
    if raw is None:
        return datetime.now(timezone.utc) - timedelta(days=1)
    try:
        since = datetime.fromisoformat(raw)
        # In UTC, as the columns hold it (SQLite compares the text); out of range there is a 400.
        return since.astimezone(timezone.utc) if since.tzinfo else since.replace(tzinfo=timezone.utc)
    except (ValueError, OverflowError):
        raise APIError(400, "bad_request", "since must be an ISO-8601 time within years 1 to 9999 "
                       "in UTC") from None


@bp.get("/stats")
@login_required
def agent_stats():
    """Each agent's figures since `since` (default: the last 24 hours); README, Agent API,
    says what each one counts."""
    agent = current_agent()
    if agent.role != "admin":
        raise APIError(403, "forbidden", "stats are for admins")
    since, session, shop_id = _since(), db.session(), agent.shop_id
    per = defaultdict(lambda: {"conversations": set(), "assignments": 0, "first_response": [],
                               "answered": 0, "fast": 0, "ratings": []})
    for agent_id, conversation_id, assigned_at, first_response_at in session.execute(
            select(Assignment.agent_id, Assignment.conversation_id, Assignment.assigned_at,
                   Assignment.first_response_at)
            .where(Assignment.shop_id == shop_id, Assignment.assigned_at >= since)):
        row = per[agent_id]
        row["conversations"].add(conversation_id)
        row["assignments"] += 1
        if first_response_at is not None:
            row["first_response"].append((first_response_at - assigned_at).total_seconds())
    for agent_id, seconds in session.execute(
            select(Message.responded_by, Message.response_seconds)
            .where(Message.shop_id == shop_id, Message.expects_reply.is_(True),
                   Message.responded_by.is_not(None), Message.responded_at >= since)):
        per[agent_id]["answered"] += 1
        per[agent_id]["fast"] += seconds <= lifecycle.FAST_REPLY_SECONDS
    for agent_id, score in session.execute(
            select(Conversation.agent_id, Conversation.rating_score)
            .where(Conversation.shop_id == shop_id, Conversation.rated_at >= since,
                   Conversation.agent_id.is_not(None))):
        per[agent_id]["ratings"].append(score)
    names = dict(session.execute(select(Agent.id, Agent.username).where(Agent.shop_id == shop_id)).all())
    items = []
    for agent_id, row in sorted(per.items(), key=lambda kv: names.get(kv[0], "")):
        firsts, ratings = row["first_response"], row["ratings"]
        items.append({
            "agent": names.get(agent_id), "conversations": len(row["conversations"]),
            "assignments": row["assignments"],
            "avg_first_response_seconds": round(sum(firsts) / len(firsts), 1) if firsts else None,
            "messages_answered": row["answered"],
            "response_rate_3min": round(row["fast"] / row["answered"], 4) if row["answered"] else None,
            "ratings": len(ratings), "avg_rating": round(sum(ratings) / len(ratings), 2) if ratings else None,
        })
    return jsonify({"since": since.isoformat(), "items": items})
