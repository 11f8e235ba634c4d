"""POST /api/v1/conversations/<id>/messages/<mid>/retry: an agent sends a message again.

The one way an `unknown` row (a send cut off before WeChat's answer was recorded) goes out
again: the agent, who can ask the shopper, judges whether a second copy is acceptable. A
`failed` row may be retried the same way (e.g. once the shopper has written again).
"""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, jsonify

from bridge import delivery
from bridge.conversations import lifecycle
from bridge.effects import Effects
from bridge.events import names, payloads
from bridge.infra import db
from bridge.models import Conversation, Message
from bridge.shapes import message_json
from bridge.visibility import audience, sees_conversation
from bridge.web.api.auth import current_agent, current_viewer, login_required
from bridge.web.api.errors import APIError, not_found

bp = Blueprint("outbox", __name__)


@bp.post("/conversations/<id:conversation_id>/messages/<id:message_id>/retry")
@login_required
def retry_message(conversation_id: int, message_id: int):
    session, agent, now = db.session(), current_agent(), datetime.now(timezone.utc)
    c = session.get(Conversation, conversation_id)
    if c is None or c.shop_id != current_viewer().shop_id:
        raise not_found("no such conversation")
    if not sees_conversation(current_viewer(), c):
        raise APIError(403, "forbidden", "this conversation is another agent's")
    m = session.get(Message, message_id)
    if m is None or m.conversation_id != c.id or m.direction != "out" or m.delivery is None:
        raise not_found("no such outgoing message in this conversation")
    if c.agent_id != agent.id and agent.role != "admin":
        raise APIError(403, "forbidden", "only the conversation's agent or an admin can retry its messages")
    history = c.channel.shop.settings.get("history_reply_hours", 72)
    if not lifecycle.can_reply(c, history, now):
        raise APIError(409, "conflict", f"the conversation is {c.state}: it can no longer be replied to")
    if not delivery.retry(session, m, now):
        raise APIError(409, "conflict", f"the message is {m.delivery}: only an unknown or failed "
                       "one can be sent again")
    effects = Effects(c.shop_id)
    effects.deliver(m.id, m.sender)
    effects.publish(names.MESSAGE_UPDATED, c.id, audience(c.agent_id, c.state, c.customer_id),
                    payloads.message(m))
    effects.commit(session)
    return jsonify(message_json(m))
