"""What ingest writes: a message's row (the shopper's, the bot's answer, a notice), and the
conversation as the push left it."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bridge.channels.contract import InboundMessage, Reply


@dataclass
class Opened:
    """The shopper's conversation as the push left it."""

    id: int
    state: str
    agent_id: int | None
    is_new: bool
    queued_now: bool  # this message sent it to routing

    @classmethod
    def of(cls, row, stamp: Any) -> Opened:
        id_, state, agent_id, created_at, queued_at = row
        return cls(id_, state, agent_id, is_new=created_at == stamp,
                   queued_now=state == "queued" and queued_at == stamp)


def inbound_row(inbound: InboundMessage, stamp: Any, expects_reply: bool = True) -> dict[str, Any]:
    """The shopper's message; it expects a person's reply unless the robot answered it or it
    answered a rating card."""
    return {"direction": "in", "sender": "customer", "type": inbound.kind, "text": inbound.text,
            "media": dict(inbound.media) if inbound.media else None, "raw": dict(inbound.raw),
            "external_id": inbound.external_id, "delivery": None, "expects_reply": expects_reply,
            "stamp": stamp}


def bot_row(reply: Reply, source: Mapping[str, Any], delivery: str | None, stamp: Any) -> dict[str, Any]:
    """The bot's answer: sent as the passive reply (no delivery), or an outbox row (pending)."""
    return {"direction": "out", "sender": "bot", "type": reply.type, "text": reply.text,
            "media": {"media_id": reply.media_id} if reply.media_id else None, "raw": dict(source),
            "external_id": None, "delivery": delivery, "expects_reply": None, "stamp": stamp}


def notice_row(kind: str, text: str, stamp: Any) -> dict[str, Any]:
    """A notice of the shop's own (conversations/notices.py), as an outbox row."""
    return {"direction": "out", "sender": "system", "type": "text", "text": text, "media": None,
            "raw": {"notice": kind}, "external_id": None, "delivery": "pending", "expects_reply": None,
            "stamp": stamp}
