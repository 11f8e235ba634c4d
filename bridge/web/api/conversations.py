"""Conversations and their messages, scoped to the agent's shop."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from bridge.channels import registry
from bridge.conversations import lifecycle, places
from bridge.customers import search
from bridge.infra import db
from bridge.inputs import BIGINT_MAX, storable
from bridge.models import CONVERSATION_STATES, WAITING_STATES, Agent, Conversation, Group, Message, Shop
from bridge.shapes import conversation_json, iso, message_json
from bridge.visibility import conversation_filter, sees_conversation
from bridge.web.api.auth import current_agent, current_viewer, login_required
from bridge.web.api.errors import APIError, invalid, not_found
from bridge.web.api.shapes import int_arg, json_body

bp = Blueprint("conversations", __name__)

MAX_KEY = 64  # an agent's username, a group's key (bridge/models.py)


def visible(conversation_id: int) -> Conversation:
    """The conversation if the agent may see it; another shop's id is simply not found."""
    viewer = current_viewer()
    c = db.session().get(Conversation, conversation_id)
    if c is None or c.shop_id != viewer.shop_id:
        raise not_found("no such conversation")
    if not sees_conversation(viewer, c):
        raise APIError(403, "forbidden", "this conversation is another agent's")
    return c


def _own(conversation_id: int, verb: str) -> Conversation:
    """A conversation the agent serves (or any, for an admin) — to reply, transfer, end, rate."""
    c, agent = visible(conversation_id), current_agent()
    if c.agent_id != agent.id and agent.role != "admin":
        raise APIError(403, "forbidden", f"only the conversation's agent or an admin can {verb} it")
    return c


@bp.get("/conversations")
@login_required
def list_conversations():
    """Newest first, a page at a time (`before` = the last id of the page before); `state`
    takes one state or several (`state=queued,waiting`); `q` searches (bridge/customers/
    search.py). Each row carries its last message and how many shopper messages wait for a
    person's answer."""
    states = [s for raw in request.args.getlist("state") for s in raw.split(",") if s]
    unknown = [s for s in states if s not in CONVERSATION_STATES]
    if unknown:
        raise APIError(400, "bad_request", f"state must be one or more of {', '.join(CONVERSATION_STATES)}")
    limit = int_arg("limit", 100, 1, 500)
    before = int_arg("before", None, 1, BIGINT_MAX)
    viewer = current_viewer()
    query = (select(Conversation)
             .options(joinedload(Conversation.channel), joinedload(Conversation.customer),
                      joinedload(Conversation.agent), joinedload(Conversation.group))
             .where(Conversation.shop_id == viewer.shop_id, conversation_filter(viewer))
             .order_by(Conversation.id.desc()).limit(limit))
    if states:
        query = query.where(Conversation.state.in_(states))
    if before:
        query = query.where(Conversation.id < before)
    q = request.args.get("q", "").strip()
    if q:
        if not storable(q):
            raise APIError(400, "bad_request", "q holds a NUL character or a lone surrogate")
        if len(q) > search.MAX_QUERY:
            raise APIError(400, "bad_request", f"q is {len(q)} characters: at most {search.MAX_QUERY}")
        query = query.where(search.conversations_matching(q))
    items = db.session().scalars(query).all()
    return jsonify({"items": rows(items), "next_before": items[-1].id if len(items) == limit else None})


def rows(conversations: list[Conversation]) -> list[dict]:
    """Conversations as a list shows them: with the last message, the unanswered count and,
    for a shopper waiting for an agent, the place in the shop's queue."""
    last, waiting = _last_messages(conversations), _unanswered(conversations)
    queue = {}
    if any(c.state in WAITING_STATES for c in conversations):
        queue = places.queue_places(db.session(), db.session().get(Shop, conversations[0].shop_id))
    return [{**conversation_json(c), "last_message": last.get(c.id), "unanswered": waiting.get(c.id, 0),
             "queue_position": queue.get(c.id)} for c in conversations]


def _last_messages(conversations: list[Conversation]) -> dict[int, dict]:
    """Each conversation's newest message, as a list row previews it."""
    ids = [c.id for c in conversations]
    if not ids:
        return {}
    newest = (select(func.max(Message.id)).where(Message.conversation_id.in_(ids))
              .group_by(Message.conversation_id))
    rows = db.session().scalars(select(Message).where(Message.id.in_(newest))).all()
    return {m.conversation_id: {"id": m.id, "sender": m.sender, "type": m.type, "text": m.text,
                                "created_at": iso(m.created_at)} for m in rows}


def _unanswered(conversations: list[Conversation]) -> dict[int, int]:
    ids = [c.id for c in conversations]
    if not ids:
        return {}
    return dict(db.session().execute(
        select(Message.conversation_id, func.count())
        .where(Message.conversation_id.in_(ids), Message.expects_reply.is_(True),
               Message.responded_at.is_(None))
        .group_by(Message.conversation_id)).all())


@bp.get("/conversations/<id:conversation_id>")
@login_required
def get_conversation(conversation_id: int):
    c = visible(conversation_id)
    return jsonify({**rows([c])[0], "metrics": _metrics(c), "send_window": _send_window(c)})


def _send_window(c: Conversation) -> dict | None:
    """What the channel still lets the bridge send this shopper (FACTS.md §2), as the composer
    shows it: None where the channel sets no window. Replies stored but not yet sent will
    spend slots too, so they are counted off here; a notice the bridge sends may still take
    one before the agent's next reply does."""
    if registry.get(c.channel.kind).capabilities.send_window is None:
        return None
    customer, moment = c.customer, now()
    closes_at = customer.window_expires_at
    queued = db.session().scalar(select(func.count()).select_from(Message).where(
        Message.conversation_id == c.id, Message.direction == "out", Message.delivery == "pending"))
    is_open = closes_at is not None and closes_at > moment
    return {"open": is_open and customer.window_quota > 0, "closes_at": iso(closes_at) if is_open else None,
            "sends_left": max(0, customer.window_quota - queued) if is_open else 0}


def _metrics(c: Conversation) -> dict:
    """The shopper messages that waited for a person, answered, and answered within 3 minutes
    of the message (or of the answering agent's assignment, if that came later)."""
    times = db.session().scalars(select(Message.response_seconds).where(
        Message.conversation_id == c.id, Message.expects_reply.is_(True),
        Message.responded_at.is_not(None))).all()
    fast = sum(t <= lifecycle.FAST_REPLY_SECONDS for t in times)
    return {"answered": len(times), "answered_within_3min": fast,
            "response_rate_3min": round(fast / len(times), 4) if times else None}


@bp.get("/conversations/<id:conversation_id>/messages")
@login_required
def list_messages(conversation_id: int):
    c = visible(conversation_id)
    limit = int_arg("limit", 100, 1, 500)
    before = int_arg("before", None, 1, BIGINT_MAX)
    query = (select(Message).options(joinedload(Message.agent))
             .where(Message.conversation_id == c.id, Message.shop_id == c.shop_id)
             .order_by(Message.id.desc()).limit(limit))
    if before:
        query = query.where(Message.id < before)
    items = list(reversed(db.session().scalars(query).all()))
    return jsonify({"items": [message_json(m) for m in items]})


@bp.post("/conversations/<id:conversation_id>/accept")
@login_required
def accept_conversation(conversation_id: int):
    c = lifecycle.accept(db.session(), visible(conversation_id).id, current_agent(), now())
    return jsonify(conversation_json(c))


@bp.post("/conversations/<id:conversation_id>/transfer")
@login_required
def transfer_conversation(conversation_id: int):
    c, body = _own(conversation_id, "transfer"), json_body()
    if set(body) not in ({"agent"}, {"group"}):
        raise invalid('give exactly one of {"agent": username} or {"group": key}')
    [(field, name)] = body.items()
    if not isinstance(name, str) or not 0 < len(name) <= MAX_KEY:
        raise invalid(f"{field} must be a {'username' if field == 'agent' else 'group key'}: "
                      f"a string of 1 to {MAX_KEY} characters")
    session, target_agent, target_group = db.session(), None, None
    if field == "agent":
        target_agent = session.scalar(select(Agent).where(
            Agent.shop_id == c.shop_id, Agent.username == name, Agent.active.is_(True)))
        if target_agent is None:
            raise not_found(f"no agent {name!r} in this shop")
    else:
        target_group = session.scalar(select(Group).where(Group.shop_id == c.shop_id, Group.key == name))
        if target_group is None:
            raise not_found(f"no group {name!r} in this shop")
    c = lifecycle.transfer(session, c.id, now(), agent_id=target_agent.id if target_agent else None,
                           group_id=target_group.id if target_group else None)
    return jsonify(conversation_json(c))


@bp.post("/conversations/<id:conversation_id>/end")
@login_required
def end_conversation(conversation_id: int):
    c = lifecycle.end(db.session(), _own(conversation_id, "end").id, now(), reason="agent")
    return jsonify(conversation_json(c))


@bp.post("/conversations/<id:conversation_id>/rating-invite")
@login_required
def rating_invite(conversation_id: int):
    c = _own(conversation_id, "invite a rating for")
    lifecycle.invite_rating(db.session(), c, now())
    return jsonify(conversation_json(c))


def now() -> datetime:
    return datetime.now(timezone.utc)
