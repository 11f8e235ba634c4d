"""The JSON shapes of a conversation and a message, one definition for every reader.

The agent API answers with them, and the live events carry them (events/payloads.py), so a
client renders a conversation or a message one way, whether it fetched it or was told of it.
Each shape is written once as a function of its fields; `conversation_json` and
`message_json` fill it from rows, ingest fills it from what its statements returned.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bridge.models import Agent, Conversation, Customer, Group, Message


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def utc(value: datetime | str | None) -> datetime | None:
    """A timestamp as a raw driver returns it (SQLite: naive UTC text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value is not None:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value


def person(agent: Agent | None) -> dict[str, str] | None:
    """An agent as clients name it: by username (ids stay inside the bridge)."""
    return {"username": agent.username, "name": agent.name} if agent else None


def conversation_shape(row: Mapping[str, Any], channel: Mapping[str, str], customer: Mapping[str, Any],
                       agent: dict[str, str] | None, group: str | None) -> dict[str, Any]:
    """ROW: the conversation's columns by name (aware datetimes); CHANNEL {key, kind};
    CUSTOMER {id, external_id, nickname}; AGENT `person`; GROUP its key."""
    assigned, responded, rated = row["assigned_at"], row["first_response_at"], row["rated_at"]
    return {
        "id": row["id"],
        "state": row["state"],
        "channel": {"key": channel["key"], "kind": channel["kind"]},
        "customer": {"id": customer["id"], "external_id": customer["external_id"],
                     "nickname": customer["nickname"]},
        "agent": agent,
        "group": group,
        "queued_at": iso(row["queued_at"]),
        "assigned_at": iso(assigned),
        "ended_at": iso(row["ended_at"]),
        "last_customer_message_at": iso(row["last_customer_message_at"]),
        "awaiting_reply_since": iso(row["awaiting_reply_since"]),
        "first_response_seconds": (round((responded - assigned).total_seconds(), 3)
                                   if responded and assigned else None),
        "end_reason": row["end_reason"],
        "rating": ({"score": row["rating_score"], "comment": row["rating_comment"], "rated_at": iso(rated)}
                   if rated else None),
        "created_at": iso(row["created_at"]),
    }


CONVERSATION_FIELDS = ("id", "state", "queued_at", "assigned_at", "ended_at", "last_customer_message_at",
                       "awaiting_reply_since", "first_response_at", "end_reason", "rating_score",
                       "rating_comment", "rated_at", "created_at")


def conversation_json(c: Conversation, customer: Customer | None = None, agent: Agent | None = None,
                      group: Group | None = None) -> dict[str, Any]:
    """The conversation row as clients get it. CUSTOMER, AGENT, GROUP: the rows its ids name,
    when the caller has them (else its relationships are read)."""
    customer = customer or c.customer
    if agent is None and c.agent_id is not None:
        agent = c.agent
    if group is None and c.group_id is not None:
        group = c.group
    return conversation_shape(
        {name: getattr(c, name) for name in CONVERSATION_FIELDS},
        {"key": c.channel.key, "kind": c.channel.kind},
        {"id": customer.id, "external_id": customer.external_id, "nickname": customer.nickname},
        person(agent), group.key if group else None)


def message_shape(row: Mapping[str, Any], agent: dict[str, str] | None) -> dict[str, Any]:
    """ROW: the message's columns by name (aware datetimes); AGENT `person`, for an agent's reply."""
    delivery = None
    if row["delivery"] is not None:
        error = {"code": row["error_code"], "message": row["error_message"]} if row["error_code"] else None
        delivery = {"state": row["delivery"], "error": error, "attempts": row["attempts"],
                    "sent_at": iso(row["sent_at"])}
    media = row["media"]
    return {
        "id": row["id"],
        "conversation_id": row["conversation_id"],
        "direction": row["direction"],
        "sender": row["sender"],
        "agent": agent,
        "type": row["type"],
        "text": row["text"],
        # A shopper's image, voice or video carries `state`: fetching | stored | unavailable
        # (media/fetch.py); once stored, media_url serves the bridge's copy.
        "media": media,
        # The stored file itself (an agent's image), served to whoever may see the conversation.
        "media_url": (f"/api/v1/conversations/{row['conversation_id']}/messages/{row['id']}/media"
                      if (media or {}).get("sha256") else None),
        "delivery": delivery,
        "client_id": row.get("client_id"),  # the agent's page made it for this send (POST …/messages)
        "responded_at": iso(row["responded_at"]),
        "created_at": iso(row["created_at"]),
    }


MESSAGE_FIELDS = ("id", "conversation_id", "direction", "sender", "type", "text", "media", "delivery", "client_id",
                  "error_code", "error_message", "attempts", "sent_at", "responded_at", "created_at")


def message_json(m: Message) -> dict[str, Any]:
    return message_shape({name: getattr(m, name) for name in MESSAGE_FIELDS},
                         person(m.agent) if m.agent_id is not None else None)
