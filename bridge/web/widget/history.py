"""What the shopper's widget shows on opening: their messages across their conversations
(newest last), and where their conversation stands — with the robot, waiting (and where in the
queue), with an agent (by name), ended.

An agent's reply is shown once it is on its way to the shopper (sending, sent, or its fate
unknown); a pending one arrives through the feed when it is sent, and a failed one never
reached them."""
from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from bridge.channels.contract import SHOP_CARDS, Adapter, ChannelConfig
from bridge.conversations.places import queue_places
from bridge.models import WAITING_STATES, Agent, Conversation, Customer, Message, Shop
from bridge.shapes import iso, utc

PAGE = 50
SHOWN_DELIVERIES = ("sending", "sent", "unknown")


def customer_of(session: Session, channel: ChannelConfig, shopper_id: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.channel_id == channel.id,
                                                 Customer.external_id == shopper_id))


def messages(session: Session, adapter: Adapter, customer: Customer | None,
             before: int | None = None) -> tuple[list[dict[str, Any]], bool]:
    """Up to PAGE of the shopper's messages before BEFORE (None: the newest), oldest first, and
    whether there are older ones."""
    if customer is None:
        return [], False
    query = (select(Message, Conversation.agent_id)
             .join(Conversation, Conversation.id == Message.conversation_id)
             .where(Conversation.customer_id == customer.id,
                    or_(Message.direction == "in", Message.delivery.in_(SHOWN_DELIVERIES))))
    if before is not None:
        query = query.where(Message.id < before)
    rows = session.execute(query.order_by(Message.id.desc()).limit(PAGE + 1)).all()
    names = _agent_names(session, {m.agent_id or (agent_id if m.sender == "system" else None) for m, agent_id in rows})
    views = [view_of(adapter, m, names.get(m.agent_id or (agent_id if m.sender == "system" else None)))
             for m, agent_id in rows[:PAGE]]
    return views[::-1], len(rows) > PAGE


def view_of(adapter: Adapter, m: Message, name: str | None = None) -> dict[str, Any]:
    """The message as the shopper's widget shows it (the adapter's shape)."""
    media = m.media or {}
    return adapter.view(
        id_=m.id, sender=m.sender, type_=m.type, text=m.text, created_at=iso(utc(m.created_at)), name=name,
        client_id=(m.raw or {}).get("client_id") if m.direction == "in" else None,
        digest=media.get("sha256") if m.type == "image" else None,
        card=media if m.type in ("link", "miniprogrampage", *SHOP_CARDS) else None,
        notice=(m.raw or {}).get("notice") if m.sender == "system" else None)


def conversation(session: Session, customer: Customer | None) -> dict[str, Any] | None:
    """The shopper's open conversation, else the latest, as the widget's header shows it."""
    if customer is None:
        return None
    latest = session.scalar(select(Conversation).where(Conversation.customer_id == customer.id)
                            .order_by(Conversation.id.desc()).limit(1))
    if latest is None:
        return None
    agent = session.get(Agent, latest.agent_id) if latest.agent_id is not None else None
    position = None
    if latest.state in WAITING_STATES:
        position = queue_places(session, session.get(Shop, latest.shop_id)).get(latest.id)
    return {"state": latest.state, "agent": {"name": agent.name} if agent and latest.state == "active" else None,
            "queue_position": position}


def _agent_names(session: Session, ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(session.execute(select(Agent.id, Agent.name).where(Agent.id.in_(ids))).all())
