"""Blocking a shopper (拉黑): spam, abuse. The shopper's messages are still kept — nothing a shopper
sends is ever lost — but no keyword answers them, no agent is asked to, and they count in no
response figure. Blocking ends what they have open (no rating card); an admin lifts it."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bridge.conversations import lifecycle
from bridge.customers.models import CustomerBlock
from bridge.models import OPEN_STATES, Agent, Conversation, Customer

MAX_REASON = 200


def block_of(session: Session, customer: Customer) -> CustomerBlock | None:
    return session.get(CustomerBlock, (customer.shop_id, customer.id))


def block(session: Session, customer: Customer, agent: Agent, reason: str, now: datetime) -> CustomerBlock:
    """Block CUSTOMER (committed); then their open conversation ends. Blocking again keeps the first block."""
    found = block_of(session, customer)
    if found is not None:
        return found
    found = CustomerBlock(shop_id=customer.shop_id, customer_id=customer.id, agent_id=agent.id, reason=reason,
                          created_at=now)
    session.add(found)
    session.commit()
    for conversation_id in session.scalars(select(Conversation.id).where(
            Conversation.customer_id == customer.id, Conversation.state.in_(OPEN_STATES))).all():
        lifecycle.end(session, conversation_id, now, reason="blocked")
    return found


def unblock(session: Session, customer: Customer) -> None:
    session.execute(delete(CustomerBlock).where(CustomerBlock.shop_id == customer.shop_id,
                                                CustomerBlock.customer_id == customer.id))
