"""Blocking a shopper (拉黑): spam, abuse. The shopper's messages are still kept — nothing a shopper
sends is ever lost — but no keyword answers them, no agent is asked to, and they count in no
response figure. Blocking ends what they have open (no rating card); an admin lifts it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bridge.conversations import lifecycle
from bridge.conversations.assignment import lock_shop
from bridge.customers import people
from bridge.customers.models import CustomerBlock
from bridge.models import OPEN_STATES, Agent, Conversation, Customer

MAX_REASON = 200


def block_of(session: Session, customer: Customer) -> CustomerBlock | None:
    return session.get(CustomerBlock, (customer.shop_id, customer.id))


def block(session: Session, customer: Customer, agent: Agent, reason: str, now: datetime) -> CustomerBlock:
    """Block CUSTOMER — on every channel the shop linked them on (customers/people.py) — committed
    under the shop lock; then what they have open ends. Blocking again keeps the first block."""
    lock_shop(session, customer.shop_id)
    rows = people.linked(session, customer)
    for row in rows:
        if block_of(session, row) is None:
            session.add(CustomerBlock(shop_id=row.shop_id, customer_id=row.id, agent_id=agent.id, reason=reason,
                                      created_at=now))
    session.commit()
    for conversation_id in session.scalars(select(Conversation.id).where(
            Conversation.customer_id.in_([r.id for r in rows]), Conversation.state.in_(OPEN_STATES))).all():
        lifecycle.end(session, conversation_id, now, reason="blocked")
    return block_of(session, customer)


def unblock(session: Session, customer: Customer) -> None:
    """Lift the block on CUSTOMER and on the rows linked to them."""
    ids = [r.id for r in people.linked(session, customer)]
    session.execute(delete(CustomerBlock).where(CustomerBlock.shop_id == customer.shop_id,
                                                CustomerBlock.customer_id.in_(ids)))
