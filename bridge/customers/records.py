"""What agents keep about a shopper — notes, tags from the shop's vocabulary, the exclusive
agent — and who may change what. Each change is committed with a `customer.updated` event,
so every open panel showing this shopper reads it again.

Notes: any agent who sees the shopper writes one; its author or an admin deletes it. Tags:
admins make the vocabulary, any agent puts a tag on a shopper or takes it off (both
idempotent). The exclusive agent (专属客服): admins only; routing prefers that agent for the
shopper's next conversations (bridge/routing.py, step 4).
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.customers.models import CustomerNote, CustomerTag, Tag
from bridge.effects import Effects
from bridge.errors import Conflict
from bridge.events import names
from bridge.models import Agent, Conversation, Customer
from bridge.visibility import shopper_audience

MAX_NOTE = 1000
MAX_TAG = 20
MAX_TAGS = 500  # a shop's vocabulary


class Refused(Exception):
    """The agent may not make this change (403)."""


def add_note(session: Session, customer: Customer, agent: Agent, text: str, now: datetime) -> CustomerNote:
    note = CustomerNote(shop_id=customer.shop_id, customer_id=customer.id, agent_id=agent.id, text=text,
                        created_at=now, updated_at=now)
    session.add(note)
    _commit(session, customer)
    return note


def delete_note(session: Session, customer: Customer, note: CustomerNote, agent: Agent) -> None:
    if note.agent_id != agent.id and agent.role != "admin":
        raise Refused("only the note's author or an admin can delete it")
    session.delete(note)
    _commit(session, customer)


def create_tag(session: Session, shop_id: int, agent: Agent, name: str, now: datetime) -> Tag:
    if agent.role != "admin":
        raise Refused("only an admin can add to the shop's tags")
    count = len(session.scalars(select(Tag.id).where(Tag.shop_id == shop_id).limit(MAX_TAGS)).all())
    if count >= MAX_TAGS:
        raise Conflict(f"the shop has {MAX_TAGS} tags, the most it may have: delete some first")
    if session.scalar(select(Tag.id).where(Tag.shop_id == shop_id, Tag.name == name)) is not None:
        raise Conflict(f"the shop already has the tag {name!r}")
    tag = Tag(shop_id=shop_id, name=name, created_at=now)
    session.add(tag)
    try:
        session.commit()
    except IntegrityError:  # the same name added by someone else at the same moment
        session.rollback()
        raise Conflict(f"the shop already has the tag {name!r}") from None
    return tag


def tag_customer(session: Session, customer: Customer, tag: Tag, agent: Agent, now: datetime) -> None:
    if session.get(CustomerTag, (customer.shop_id, customer.id, tag.id)) is not None:
        return
    session.add(CustomerTag(shop_id=customer.shop_id, customer_id=customer.id, tag_id=tag.id,
                            agent_id=agent.id, created_at=now))
    try:
        _commit(session, customer)
    except IntegrityError:  # put on by another agent at the same moment: it is on, as asked
        session.rollback()


def untag_customer(session: Session, customer: Customer, tag: Tag, linked_ids: Sequence[int] = ()) -> None:
    """Off the shopper, and off every row linked to them (LINKED_IDS): the tag was shown as theirs."""
    ids = list(linked_ids) or [customer.id]
    if session.execute(delete(CustomerTag).where(CustomerTag.shop_id == customer.shop_id, CustomerTag.tag_id == tag.id,
                                                 CustomerTag.customer_id.in_(ids))).rowcount:
        _commit(session, customer)


def set_exclusive_agent(session: Session, customer: Customer, admin: Agent, agent: Agent | None) -> None:
    if admin.role != "admin":
        raise Refused("only an admin can set a shopper's exclusive agent")
    customer.exclusive_agent_id = agent.id if agent else None
    _commit(session, customer)


def tags_of(session: Session, customer: Customer, linked_ids: Sequence[int] = ()) -> list[Tag]:
    """The shopper's tags, with those of the rows linked to them (LINKED_IDS, customers/people.py)."""
    ids = list(linked_ids) or [customer.id]
    return list(session.scalars(select(Tag).where(Tag.id.in_(
        select(CustomerTag.tag_id).where(CustomerTag.shop_id == customer.shop_id, CustomerTag.customer_id.in_(ids))))
        .order_by(Tag.name)))


def _commit(session: Session, customer: Customer) -> None:
    """Commit with the event, for whoever sees the shopper (bridge/web/api/customers.py): the agent
    of any of their conversations, everyone while one has no agent, and the admins."""
    effects = Effects(customer.shop_id)
    seen_by = session.execute(select(Conversation.agent_id, Conversation.state).distinct()
                              .where(Conversation.customer_id == customer.id)).all()
    latest = session.scalar(select(func.max(Conversation.id)).where(Conversation.customer_id == customer.id))
    effects.publish(names.CUSTOMER_UPDATED, latest, shopper_audience(seen_by, customer.id),
                    customer={"id": customer.id})
    effects.commit(session)
