"""What the events of the services carry (events/names.py), read at their commit.

Each function here is an `Effects.publish` FILL: it reads the rows when the service commits,
after everything it changed, so the event carries what was committed. Rows are read through
the session by id — an agent or group a service has just set is in it already — since a
relationship loaded before the change still names what was. Ingest builds its events from
what its statements returned instead (ingest/pipeline.py): it holds no ORM rows.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload

from bridge.effects import Effects
from bridge.events import names
from bridge.models import Agent, Conversation, Customer, Group, Message
from bridge.shapes import conversation_json, message_json
from bridge.visibility import audience

Fill = Callable[[Session], dict[str, Any]]


def conversation(c: Conversation) -> Fill:
    """The conversation as GET /conversations/<id> gives it."""
    def fill(session: Session) -> dict[str, Any]:
        return {"conversation": conversation_json(
            c, session.get(Customer, c.customer_id),
            session.get(Agent, c.agent_id) if c.agent_id is not None else None,
            session.get(Group, c.group_id) if c.group_id is not None else None)}
    return fill


def message(m: Message) -> Fill:
    """The message as GET /conversations/<id>/messages gives it."""
    return lambda session: {"message": message_json(m)}


def agent(a: Agent) -> Fill:
    """The agent by username, with its load once the commit's assignments are made."""
    def fill(session: Session) -> dict[str, Any]:
        load = session.scalar(select(func.count()).select_from(Conversation).where(
            Conversation.agent_id == a.id, Conversation.state == "active"))
        return {"agent": {"username": a.username, "name": a.name, "status": a.status,
                          "max_concurrent": a.max_concurrent, "active_conversations": load}}
    return fill


def username(session: Session, agent_id: int | None) -> str | None:
    return session.get(Agent, agent_id).username if agent_id is not None else None


def group_key(session: Session, group_id: int | None) -> str | None:
    return session.get(Group, group_id).key if group_id is not None else None


def tell_delivery(session: Session, message_id: int) -> None:
    """An outbox row's delivery as it now stands (sent, failed, or pending a retry), as
    message.updated, to whoever sees its conversation. Called after the delivery's commit."""
    row = session.execute(
        select(Message, Conversation.agent_id, Conversation.state, Conversation.customer_id)
        .join(Conversation, Conversation.id == Message.conversation_id)
        .options(joinedload(Message.agent))
        .where(Message.id == message_id)).one_or_none()
    if row is None:  # purged meanwhile
        return
    m, agent_id, state, customer_id = row
    effects = Effects(m.shop_id)
    effects.publish(names.MESSAGE_UPDATED, m.conversation_id, audience(agent_id, state, customer_id),
                    message=message_json(m))
    session.rollback()  # the read is done: hold no transaction
    effects.after_commit()
