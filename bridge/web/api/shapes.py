"""The JSON shapes of the agent API, and strict request bodies."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import request

from bridge.models import Agent, Conversation, Message
from bridge.web.api.errors import APIError


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def json_body() -> dict[str, Any]:
    """The request's JSON object, or 400 naming what is wrong."""
    if not request.is_json:
        raise APIError(400, "bad_request", "the body must be JSON (Content-Type: application/json)")
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise APIError(400, "bad_request", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise APIError(400, "bad_request", "the body must be a JSON object")
    return body


def agent_json(agent: Agent, presence: str, last_seen_at: datetime | None) -> dict[str, Any]:
    """PRESENCE (accounts/presence.py): present, or away — its clients have gone quiet, so an
    agent online in name takes no new shoppers."""
    return {"id": agent.id, "username": agent.username, "name": agent.name, "role": agent.role,
            "status": agent.status, "presence": presence, "last_seen_at": iso(last_seen_at),
            "max_concurrent": agent.max_concurrent, "weight": agent.weight}


def conversation_json(c: Conversation) -> dict[str, Any]:
    return {
        "id": c.id,
        "state": c.state,
        "channel": {"key": c.channel.key, "kind": c.channel.kind},
        "customer": {"id": c.customer.id, "external_id": c.customer.external_id,
                     "nickname": c.customer.nickname},
        "agent": {"username": c.agent.username, "name": c.agent.name} if c.agent else None,
        "group": c.group.key if c.group else None,
        "queued_at": iso(c.queued_at),
        "assigned_at": iso(c.assigned_at),
        "ended_at": iso(c.ended_at),
        "last_customer_message_at": iso(c.last_customer_message_at),
        "awaiting_reply_since": iso(c.awaiting_reply_since),
        "first_response_seconds": (round((c.first_response_at - c.assigned_at).total_seconds(), 3)
                                   if c.first_response_at and c.assigned_at else None),
        "end_reason": c.end_reason,
        "rating": ({"score": c.rating_score, "comment": c.rating_comment, "rated_at": iso(c.rated_at)}
                   if c.rated_at else None),
        "created_at": iso(c.created_at),
    }


def message_json(m: Message) -> dict[str, Any]:
    delivery = None
    if m.delivery is not None:
        error = {"code": m.error_code, "message": m.error_message} if m.error_code else None
        delivery = {"state": m.delivery, "error": error, "attempts": m.attempts,
                    "sent_at": iso(m.sent_at)}
    return {
        "id": m.id,
        "conversation_id": m.conversation_id,
        "direction": m.direction,
        "sender": m.sender,
        "agent": {"username": m.agent.username, "name": m.agent.name} if m.agent else None,
        "type": m.type,
        "text": m.text,
        "media": m.media,
        # The stored file itself (an agent's image), served to whoever may see the conversation.
        "media_url": (f"/api/v1/conversations/{m.conversation_id}/messages/{m.id}/media"
                      if (m.media or {}).get("sha256") else None),
        "delivery": delivery,
        "responded_at": iso(m.responded_at),
        "created_at": iso(m.created_at),
    }
