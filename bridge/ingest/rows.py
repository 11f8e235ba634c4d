"""What ingest writes: a message's row (the shopper's, the bot's answer, a notice), and the
conversation as the push left it — each also in the shape the live events carry."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bridge.channels.contract import ChannelConfig, InboundMessage, Reply
from bridge.ingest.statements import CONVERSATION_COLUMNS, RETURNED
from bridge.shapes import conversation_shape, message_shape, utc

TIMESTAMPS = frozenset(c for c in CONVERSATION_COLUMNS if c.endswith("_at")) | {"awaiting_reply_since"}


@dataclass
class Opened:
    """The shopper's conversation as the push left it."""

    id: int
    state: str
    agent_id: int | None
    is_new: bool
    queued_now: bool  # this message sent it to routing
    columns: dict[str, Any] = field(default_factory=dict, repr=False)  # statements.RETURNED

    @classmethod
    def of(cls, row, stamp: Any) -> Opened:
        """ROW: the columns statements.RETURNED names, as the statement returned them."""
        columns = dict(zip(RETURNED, row, strict=True))
        return cls(columns["id"], columns["state"], columns["agent_id"], is_new=columns["created_at"] == stamp,
                   queued_now=columns["state"] == "queued" and columns["queued_at"] == stamp, columns=columns)

    def shape(self, channel: ChannelConfig, customer: Mapping[str, Any]) -> dict[str, Any]:
        """The conversation as the agent API shows it (bridge/shapes.py); CUSTOMER {id,
        external_id, nickname}."""
        row = {name: utc(value) if name in TIMESTAMPS else value
               for name, value in self.columns.items() if name in CONVERSATION_COLUMNS}
        agent = ({"username": self.columns["agent_username"], "name": self.columns["agent_name"]}
                 if self.agent_id is not None else None)
        return conversation_shape(row, {"key": channel.key, "kind": channel.kind}, customer, agent,
                                  self.columns["group_key"])


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
            "media": dict(reply.card) if reply.card else {"media_id": reply.media_id} if reply.media_id else None,
            "raw": dict(source),
            "external_id": None, "delivery": delivery, "expects_reply": None, "stamp": stamp}


def notice_row(kind: str, text: str, stamp: Any) -> dict[str, Any]:
    """A notice of the shop's own (conversations/notices.py), as an outbox row."""
    return {"direction": "out", "sender": "system", "type": "text", "text": text, "media": None,
            "raw": {"notice": kind}, "external_id": None, "delivery": "pending", "expects_reply": None,
            "stamp": stamp}


def message_view(id_: int, conversation_id: int, row: Mapping[str, Any], now: datetime) -> dict[str, Any]:
    """A message ROW (above) as stored at NOW, as the agent API shows it (bridge/shapes.py)."""
    return message_shape({**row, "id": id_, "conversation_id": conversation_id, "error_code": None,
                          "error_message": None, "attempts": 0, "sent_at": None, "responded_at": None,
                          "created_at": now}, None)
