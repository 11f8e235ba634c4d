"""The rows the daily figures are made of, read for a whole range at once: one statement per
source table, whatever the number of days (metrics/daily.py buckets them).

Indexes: stints are read through ix_assignments_shop_agent (shop, agent, assigned_at) — all
three columns, as the shop's agents are named — and each stint's conversation and previous
stint by primary key. Answers and ratings have no index on their moment: answers are bounded
by ix_messages_shop_created from above only (a message is answered after it was written), and
ratings by the shop's rows of ix_conversations_shop_state.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select
from sqlalchemy.orm import Session, aliased

from bridge.metrics.daily import Answer, Rating, Stint, queued_from
from bridge.models import Assignment, Conversation, Message


@dataclass(frozen=True)
class Rows:
    stints: list[Stint]
    answers: list[Answer]
    ratings: list[Rating]


def read_rows(session: Session, shop_id: int, agent_ids: list[int], start: datetime, end: datetime) -> Rows:
    """The shop's stints that began, answers given and ratings received in [start, end)."""
    return Rows(_stints(session, shop_id, agent_ids, start, end), _answers(session, shop_id, start, end),
                _ratings(session, shop_id, start, end))


def _stints(session: Session, shop_id: int, agent_ids: list[int], start: datetime, end: datetime) -> list[Stint]:
    before = aliased(Assignment)
    rows = session.execute(
        select(Assignment.agent_id, Assignment.conversation_id, Assignment.seq, Assignment.how,
               Assignment.assigned_at, Assignment.first_response_at, Conversation.queued_at, before.released_at)
        .join(Conversation, Conversation.id == Assignment.conversation_id)
        .outerjoin(before, and_(before.shop_id == Assignment.shop_id,
                                before.conversation_id == Assignment.conversation_id,
                                before.seq == Assignment.seq - 1))
        .where(Assignment.shop_id == shop_id, Assignment.agent_id.in_(agent_ids),
               Assignment.assigned_at >= start, Assignment.assigned_at < end))
    return [Stint(agent_id, conversation_id, assigned_at, first_response_at,
                  queued_from(how, seq, queued_at, assigned_at, released_before))
            for agent_id, conversation_id, seq, how, assigned_at, first_response_at, queued_at, released_before
            in rows]


def _answers(session: Session, shop_id: int, start: datetime, end: datetime) -> list[Answer]:
    rows = session.execute(
        select(Message.responded_by, Message.responded_at, Message.response_seconds)
        .where(Message.shop_id == shop_id, Message.created_at < end, Message.expects_reply.is_(True),
               Message.responded_by.is_not(None), Message.responded_at >= start, Message.responded_at < end))
    return [Answer(agent_id, responded_at, seconds) for agent_id, responded_at, seconds in rows]


def _ratings(session: Session, shop_id: int, start: datetime, end: datetime) -> list[Rating]:
    rows = session.execute(
        select(Conversation.agent_id, Conversation.rated_at, Conversation.rating_score)
        .where(Conversation.shop_id == shop_id, Conversation.rated_at >= start, Conversation.rated_at < end,
               Conversation.rating_score.is_not(None)))
    return [Rating(agent_id, rated_at, score) for agent_id, rated_at, score in rows]
