"""A conversation after routing: replies and their timing, transfer, end, ratings, timers.

Anything that frees or takes an agent's capacity runs under the shop lock and drains the
queue before it commits (conversations/assignment.py). The shopper's answer to a rating
card is taken where their message is stored (ingest/pipeline.py).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bridge.accounts import presence
from bridge.conversations import notices
from bridge.conversations.assignment import (
    agent_states,
    assign,
    dispatch_locked,
    lock_shop,
    release_stint,
    shop_rules,
)
from bridge.effects import Effects
from bridge.errors import Conflict
from bridge.events import names, payloads
from bridge.models import Agent, Assignment, Conversation, Message, Shop
from bridge.routing import Request, decide
from bridge.visibility import agent_audience, audience


def _locked(session: Session, conversation_id: int) -> tuple[Conversation, Shop, Effects]:
    """The conversation, re-read after taking its shop's lock, and the effects to commit."""
    conversation = session.get(Conversation, conversation_id)
    shop = lock_shop(session, conversation.shop_id)
    session.refresh(conversation)
    return conversation, shop, Effects(conversation.shop_id)


def record_agent_reply(session: Session, conversation: Conversation, agent: Agent, now: datetime) -> None:
    """AGENT answered: every shopper message still waiting for a person is answered now, by
    AGENT, and timed; the agent's first response of its stint is taken; the clock stops.

    A message is timed from itself, or from the assignment if that came later: time in the
    queue, or with the agent before, is not this agent's.
    """
    waiting = session.execute(select(Message.id, Message.created_at).where(
        Message.conversation_id == conversation.id, Message.direction == "in",
        Message.expects_reply.is_(True), Message.responded_at.is_(None))).all()
    if waiting:
        start = conversation.assigned_at
        session.execute(update(Message), [
            {"id": id_, "responded_at": now, "responded_by": agent.id,
             "response_seconds": max(0.0, (now - max(asked, start or asked)).total_seconds())}
            for id_, asked in waiting])
    conversation.awaiting_reply_since = None
    if conversation.agent_id == agent.id and conversation.state == "active":
        if conversation.first_response_at is None:
            conversation.first_response_at = now
        session.execute(update(Assignment).where(
            Assignment.conversation_id == conversation.id, Assignment.agent_id == agent.id,
            Assignment.released_at.is_(None), Assignment.first_response_at.is_(None),
        ).values(first_response_at=now))


FAST_REPLY_SECONDS = 180  # the 3-minute response rate: answered within this


def can_reply(conversation: Conversation, history_hours: int, now: datetime) -> bool:
    if conversation.state == "active":
        return True
    return (conversation.state == "ended" and conversation.ended_at is not None
            and now - conversation.ended_at <= timedelta(hours=history_hours))


def end(session: Session, conversation_id: int, now: datetime, reason: str,
        idle_before: datetime | None = None) -> Conversation:
    """End a conversation, free its agent, drain the queue, send the rating card if wanted.

    `idle_before` (the idle timer): only if the shopper is still answered and silent since
    before it — re-checked under the lock, as a message may have arrived since the sweep read.
    """
    conversation, shop, effects = _locked(session, conversation_id)
    if conversation.state == "ended":
        raise Conflict("the conversation has already ended")
    if idle_before is not None and (
            conversation.state != "active" or conversation.awaiting_reply_since is not None
            or conversation.last_customer_message_at is None
            or conversation.last_customer_message_at >= idle_before):
        raise Conflict("the shopper is no longer idle")
    served_by, was_state = conversation.agent, conversation.state
    conversation.state, conversation.ended_at, conversation.end_reason = "ended", now, reason
    release_stint(session, conversation.id, now, "end")
    effects.publish(names.CONVERSATION_ENDED, conversation.id,
                    audience(conversation.agent_id, "ended", conversation.customer_id, was_state=was_state),
                    payloads.conversation(conversation), reason=reason)
    if served_by is not None and reason != "blocked" and shop.settings.get("rating_on_end", True) \
            and conversation.rated_at is None:  # a blocked shopper is not asked to rate
        _invite_rating(session, effects, shop.settings, conversation, served_by, now)
    dispatch_locked(session, effects, shop, now)
    effects.commit(session)
    return conversation


def invite_rating(session: Session, conversation: Conversation, now: datetime) -> None:
    if conversation.agent is None:
        raise Conflict("only a conversation an agent served can be rated")
    if conversation.rated_at is not None:
        raise Conflict("the shopper has rated this conversation already")
    effects = Effects(conversation.shop_id)
    settings = conversation.channel.shop.settings
    _invite_rating(session, effects, settings, conversation, conversation.agent, now)
    effects.commit(session)


def _invite_rating(session, effects, settings, conversation, agent, now) -> None:
    conversation.rating_invited_at = now
    conversation.customer.rating_conversation_id = conversation.id
    notices.send_notice(session, effects, settings, conversation, "rating", now, agent=agent.name)


def transfer(session: Session, conversation_id: int, now: datetime, agent_id: int | None = None,
             group_id: int | None = None) -> Conversation:
    """To an agent with room (now), or to a group (back to the queue, for that group)."""
    conversation, shop, effects = _locked(session, conversation_id)
    if conversation.state == "ended":
        raise Conflict("the conversation has ended and cannot be transferred; the shopper's next "
                       "message opens a new one")
    previous, was_state = conversation.agent_id, conversation.state
    if agent_id is not None:
        target = session.get(Agent, agent_id)
        if target.id == previous:
            raise Conflict(f"the conversation is already with {target.name}")
        if target.status == "offline":
            raise Conflict(f"{target.name} is offline; transfer to an agent who is online or busy, "
                           "or to a group to queue the shopper for it")
        if target.id not in presence.present_agents(session, shop.id, now, presence.timeout()):
            raise Conflict(f"{target.name} is away (not heard from lately); transfer to an agent who is "
                           "there, or to a group to queue the shopper for it")
        load = _active_count(session, target.id)
        if load >= target.max_concurrent:
            raise Conflict(f"{target.name} has no room ({load}/{target.max_concurrent}); transfer to a "
                           "group to queue the shopper for it")
        assign(session, effects, shop, conversation, target, group_id, now, how="transfer")
    else:
        release_stint(session, conversation.id, now, "transfer")
        conversation.state, conversation.agent_id, conversation.group_id = "queued", None, group_id
        conversation.assigned_at, conversation.routed_at = None, None
        conversation.queued_at = now
    effects.publish(names.CONVERSATION_TRANSFERRED, conversation.id,
                    audience(conversation.agent_id, conversation.state, conversation.customer_id,
                             was_agent=previous, was_state=was_state),
                    payloads.conversation(conversation), to_agent=payloads.username(session, agent_id),
                    to_group=payloads.group_key(session, group_id))
    dispatch_locked(session, effects, shop, now)
    effects.commit(session)
    return conversation


def _active_count(session: Session, agent_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Conversation).where(
        Conversation.agent_id == agent_id, Conversation.state == "active"))


def accept(session: Session, conversation_id: int, agent: Agent, now: datetime) -> Conversation:
    """An agent takes a shopper from the queue, or over from the robot, within its capacity."""
    conversation, shop, effects = _locked(session, conversation_id)
    session.refresh(agent)
    if not shop.settings.get("allow_pick", True):
        raise Conflict("this shop routes shoppers itself: agents cannot take them from the queue "
                       "(setting allow_pick)")
    if conversation.state == "active":
        whose = "you" if conversation.agent_id == agent.id else conversation.agent.name
        raise Conflict(f"the conversation is active with {whose} already; to move it, its agent or "
                       "an admin transfers it")
    if conversation.state == "ended":
        raise Conflict("the conversation has ended; the shopper's next message opens a new one")
    if agent.status == "offline":
        raise Conflict("you are offline: go online or busy (PATCH /me) before taking shoppers")
    load = _active_count(session, agent.id)
    if load >= agent.max_concurrent:
        raise Conflict(f"you are at your capacity ({load}/{agent.max_concurrent}): end a conversation, "
                       "or raise max_concurrent (PATCH /me)")
    assign(session, effects, shop, conversation, agent, conversation.group_id, now, how="pick")
    effects.commit(session)
    return conversation


def set_status(session: Session, agent: Agent, now: datetime, status: str | None = None,
               max_concurrent: int | None = None, force: bool = False) -> Agent:
    """Online, busy (keeps its shoppers, takes none) or offline; capacity 1–50."""
    effects = Effects(agent.shop_id)
    shop = lock_shop(session, agent.shop_id)
    session.refresh(agent)
    if status == "offline" and agent.status != "offline":
        mine = session.scalars(select(Conversation).where(Conversation.agent_id == agent.id,
                                                          Conversation.state == "active")).all()
        if mine and not force:
            raise Conflict(f"you still have {len(mine)} active conversations: end or transfer them, "
                           "go busy to take no new ones, or go offline with force to put them back "
                           "in the queue")
        for conversation in mine:  # back to the queue, at the place they first queued
            release_stint(session, conversation.id, now, "requeue")
            conversation.state, conversation.agent_id, conversation.assigned_at = "queued", None, None
            conversation.queued_at = conversation.queued_at or now
            conversation.routed_at = None  # routed afresh: told where they stand if nobody takes them
            effects.publish(names.CONVERSATION_REQUEUED, conversation.id,
                            audience(None, "queued", conversation.customer_id, was_agent=agent.id),
                            payloads.conversation(conversation))
    if status is not None:
        agent.status = status
    if max_concurrent is not None:
        agent.max_concurrent = max_concurrent
    effects.publish(names.AGENT_UPDATED, None, agent_audience(agent.id), payloads.agent(agent))
    session.flush()
    dispatch_locked(session, effects, shop, now)
    effects.commit(session)
    return agent


def reassign(session: Session, conversation_id: int, now: datetime, cutoff: datetime | None = None) -> bool:
    """The agent left the shopper unanswered too long: another agent with room takes over.

    `cutoff`: only if the shopper has waited since before it, and the agent has had the
    shopper since before it (re-checked under the lock).
    """
    conversation, shop, effects = _locked(session, conversation_id)
    if conversation.state != "active" or conversation.awaiting_reply_since is None or (
            cutoff is not None and not _waited_since_before(conversation, cutoff)):
        session.rollback()
        return False
    request = Request(conversation.id, group_id=conversation.group_id, exclude_agent_id=conversation.agent_id)
    decision = decide(request, agent_states(session, shop.id, now).values(), shop_rules(session, shop), now)
    if decision.action != "assign":
        session.rollback()
        return False
    previous = conversation.agent_id
    assign(session, effects, shop, conversation, session.get(Agent, decision.agent_id), decision.group_id, now,
           how="reassign")
    effects.publish(names.CONVERSATION_REASSIGNED, conversation.id,
                    audience(conversation.agent_id, "active", conversation.customer_id, was_agent=previous),
                    payloads.conversation(conversation), from_agent=payloads.username(session, previous))
    dispatch_locked(session, effects, shop, now)
    effects.commit(session)
    return True


def _waited_since_before(conversation: Conversation, cutoff: datetime) -> bool:
    """An agent's time to answer runs from the shopper's message or from the assignment,
    whichever is later: waiting in the queue, or for the previous agent, is not this agent's."""
    return (conversation.awaiting_reply_since < cutoff
            and (conversation.assigned_at is None or conversation.assigned_at < cutoff))
