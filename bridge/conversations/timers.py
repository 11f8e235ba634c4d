"""The clock's work, run by the periodic sweep: idle ends, reply timeouts, the queue, retention.

Everything is read from the database each time, so no timer is lost when any process
restarts; each conversation is handled in its own short transaction.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from bridge.conversations import assignment, lifecycle
from bridge.errors import Conflict
from bridge.models import WAITING_STATES, Conversation, InboundReceipt, Message, Shop

log = logging.getLogger(__name__)


def _shops_with(session: Session, setting: str, default: int | None) -> list[tuple[int, int]]:
    """(shop id, value) of every shop where the timer `setting` is on (non-zero)."""
    rows = session.execute(select(Shop.id, Shop.settings)).all()
    session.rollback()
    return [(shop_id, value) for shop_id, settings in rows if (value := settings.get(setting, default))]


def end_idle(session: Session, now: datetime) -> int:
    """Active conversations the shopper left idle, never while their last message is unanswered.

    Idle runs from the shopper's last message or the agent's last answer, whichever is later:
    a shopper who waited in the queue longer than the limit is not ended the moment they are
    answered, before they could read the answer.
    """
    ended = 0
    for shop_id, minutes in _shops_with(session, "customer_idle_minutes", 15):
        cutoff = now - timedelta(minutes=minutes)
        answered_since = select(Message.id).where(
            Message.conversation_id == Conversation.id, Message.direction == "out",
            Message.sender == "agent", Message.created_at >= cutoff).exists()
        ids = session.scalars(select(Conversation.id).where(
            Conversation.shop_id == shop_id, Conversation.state == "active",
            Conversation.awaiting_reply_since.is_(None),
            Conversation.last_customer_message_at < cutoff, ~answered_since)).all()
        session.rollback()
        for conversation_id in ids:
            try:
                lifecycle.end(session, conversation_id, now, reason="idle", idle_before=cutoff)
                ended += 1
            except Conflict:
                session.rollback()
    return ended


def reassign_unanswered(session: Session, now: datetime) -> int:
    moved = 0
    for shop_id, minutes in _shops_with(session, "agent_reply_timeout_minutes", 0):
        cutoff = now - timedelta(minutes=minutes)
        # The clock runs from the later of the shopper's message and the assignment: time in
        # the queue or with the previous agent is not the new agent's (or a reassigned shopper
        # would be handed on again at the very next sweep).
        ids = session.scalars(select(Conversation.id).where(
            Conversation.shop_id == shop_id, Conversation.state == "active",
            Conversation.awaiting_reply_since < cutoff, Conversation.assigned_at < cutoff)).all()
        session.rollback()
        moved += sum(lifecycle.reassign(session, conversation_id, now, cutoff) for conversation_id in ids)
    return moved


def dispatch_waiting(session: Session, now: datetime) -> int:
    """A safety net for lost dispatch jobs: route every shop that has anyone waiting."""
    shop_ids = session.scalars(select(Conversation.shop_id).where(
        Conversation.state.in_(WAITING_STATES)).distinct()).all()
    session.rollback()
    return sum(assignment.dispatch(session, shop_id, now) for shop_id in shop_ids)


PURGE_BATCH = 1000  # rows per retention transaction


def purge_old_messages(session: Session, now: datetime, batch: int = PURGE_BATCH) -> int:
    """Delete messages, and dedupe receipts, older than each shop's retention_days (unset: keep
    forever), BATCH rows per transaction: no purge holds locks for long, and one cut off part
    way resumes where it stopped at the next run."""
    deleted = 0
    for shop_id, days in _shops_with(session, "retention_days", None):
        cutoff = now - timedelta(days=days)
        here = 0
        while True:
            ids = session.scalars(select(Message.id).where(Message.shop_id == shop_id, Message.created_at < cutoff)
                                  .order_by(Message.id).limit(batch)).all()
            if ids:
                for column in (InboundReceipt.message_id, InboundReceipt.reply_message_id):
                    session.execute(update(InboundReceipt).where(InboundReceipt.shop_id == shop_id, column.in_(ids))
                                    .values({column.key: None}))
                here += session.execute(delete(Message).where(Message.id.in_(ids))).rowcount
            receipts = select(InboundReceipt.id).where(InboundReceipt.shop_id == shop_id,
                                                       InboundReceipt.created_at < cutoff).limit(batch)
            gone = session.execute(delete(InboundReceipt).where(InboundReceipt.id.in_(receipts))).rowcount
            session.commit()
            if len(ids) < batch and gone < batch:
                break
        deleted += here
        if here:
            log.info("shop %s: retention removed %s messages older than %s days", shop_id, here, days)
    return deleted


