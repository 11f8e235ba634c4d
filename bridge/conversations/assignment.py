"""Applying routing decisions: the shop lock, the snapshot, the drain.

Every change to who serves whom — routing a new shopper, ending, transferring, accepting,
an agent's status or capacity — runs under its shop's lock (a row lock on the shop in
PostgreSQL; SQLite serializes all writers anyway), loads a snapshot, asks the pure engine
(bridge/routing.py), applies the answer and commits. One shop's changes are serial, shops
are independent — so capacity is never exceeded and nobody is assigned twice.
"""
from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import func, literal, select, tuple_, update
from sqlalchemy.orm import Session

from bridge.accounts import presence
from bridge.conversations import notices, waiting
from bridge.conversations.places import drain_order as _drain_order
from bridge.delivery import NOTICE_RESERVE
from bridge.effects import Effects
from bridge.events import names, payloads
from bridge.models import (
    WAITING_STATES,
    Agent,
    AgentGroup,
    Assignment,
    Conversation,
    Customer,
    EntryRoute,
    Group,
    Message,
    Shop,
)
from bridge.routing import (
    AgentState,
    Decision,
    RouteRule,
    ShopRules,
    decide,
    drain,
)
from bridge.visibility import audience


def lock_shop(session: Session, shop_id: int) -> Shop:
    return session.execute(select(Shop).where(Shop.id == shop_id).with_for_update()).scalar_one()


def shop_rules(session: Session, shop: Shop) -> ShopRules:
    s = shop.settings
    groups = dict(session.execute(select(Group.key, Group.id).where(Group.shop_id == shop.id)).all())
    routes = tuple(
        RouteRule(when=r.when, group_id=groups[r.group_key])
        for r in session.scalars(select(EntryRoute).where(EntryRoute.shop_id == shop.id)
                                 .order_by(EntryRoute.position))
        if r.group_key in groups)
    return ShopRules(strategy=s.get("routing", "least_load"), queue_order=s.get("queue_order", "fifo"),
                     customer_chooses_agent=s.get("customer_chooses_agent", False),
                     working_hours=tuple(s.get("working_hours", ())), timezone=shop.timezone,
                     routes=routes)


def active_loads(session: Session, shop_id: int) -> dict[int, int]:
    """How many active conversations each of the shop's agents has (absent: none)."""
    return dict(session.execute(
        select(Conversation.agent_id, func.count()).where(
            Conversation.shop_id == shop_id, Conversation.state == "active")
        .group_by(Conversation.agent_id)).all())


def agent_states(session: Session, shop_id: int, now: datetime) -> dict[int, AgentState]:
    """The shop's agents as routing sees them at NOW: load, groups, and who is away."""
    active = active_loads(session, shop_id)
    present = presence.present_agents(session, shop_id, now, presence.timeout())
    groups: dict[int, set[int]] = defaultdict(set)
    for agent_id, group_id in session.execute(
            select(AgentGroup.agent_id, AgentGroup.group_id).where(AgentGroup.shop_id == shop_id)):
        groups[agent_id].add(group_id)
    return {
        a.id: AgentState(id=a.id, status=a.status, max_concurrent=a.max_concurrent,
                         active=active.get(a.id, 0), weight=a.weight, groups=frozenset(groups[a.id]),
                         last_assigned_at=a.last_assigned_at.timestamp() if a.last_assigned_at else None,
                         away=a.id not in present)
        for a in session.scalars(select(Agent).where(Agent.shop_id == shop_id, Agent.active.is_(True)))
    }


def assign(session: Session, effects: Effects, shop: Shop, conversation: Conversation, agent: Agent,
           group_id: int | None, now: datetime, how: str = "route", stints_before: int | None = None) -> None:
    """AGENT serves the conversation from now: a stint of its own (the one before, if any, ends
    here), a fresh first-response clock, and the shopper told once — welcomed the first time,
    told of the transfer after that. STINTS_BEFORE: how many the conversation had (a drain
    reads them for a page at once); else they are looked up."""
    if stints_before is None:
        release_stint(session, conversation.id, now, how)
        stints_before = stint_counts(session, [conversation.id]).get(conversation.id, 0)
    session.add(Assignment(shop_id=shop.id, conversation_id=conversation.id, seq=stints_before + 1,
                           agent_id=agent.id, how=how, assigned_at=now))
    was_agent, was_state = conversation.agent_id, conversation.state
    conversation.state, conversation.agent_id, conversation.assigned_at = "active", agent.id, now
    conversation.first_response_at = None  # the new agent's clock
    conversation.group_id = group_id if group_id is not None else conversation.group_id
    conversation.routed_at = conversation.routed_at or now
    agent.last_assigned_at = now
    effects.publish(names.CONVERSATION_ASSIGNED, conversation.id,
                    audience(agent.id, "active", conversation.customer_id, was_agent=was_agent,
                             was_state=was_state), payloads.conversation(conversation))
    if how == "outreach":  # the agent wrote first: their own words open it, not the shop's welcome
        return
    notice = "welcome" if stints_before == 0 else "transfer"
    notices.send_notice(session, effects, shop.settings, conversation, notice, now, agent=agent.name)


def stint_counts(session: Session, conversation_ids: list[int]) -> dict[int, int]:
    """How many stints each conversation has had (absent: none)."""
    return dict(session.execute(
        select(Assignment.conversation_id, func.max(Assignment.seq))
        .where(Assignment.conversation_id.in_(conversation_ids))
        .group_by(Assignment.conversation_id)).all())


def release_stint(session: Session, conversation_id: int, now: datetime, reason: str) -> None:
    """The conversation's current stint, if one is open, ends: end | transfer | reassign | requeue."""
    session.execute(update(Assignment)
                    .where(Assignment.conversation_id == conversation_id, Assignment.released_at.is_(None))
                    .values(released_at=now, release_reason=reason))


QUEUE_PAGE = 200


def _queue_rows(session: Session, shop: Shop, order: str, skip: int, limit: int, unrouted: bool = False):
    """Waiting conversations in drain order, a page at a time."""
    query = (select(Conversation, Customer).join(Customer, Customer.id == Conversation.customer_id)
             .where(Conversation.shop_id == shop.id, Conversation.state.in_(WAITING_STATES))
             .order_by(*_drain_order(order))
             .offset(skip).limit(limit))
    if unrouted:
        query = query.where(Conversation.routed_at.is_(None))
    return session.execute(query).all()


def dispatch_locked(session: Session, effects: Effects, shop: Shop, now: datetime,
                    rng: random.Random | None = None) -> list[tuple[int, Decision]]:
    """Drain the shop's queue in order, then tell newly arrived shoppers where they stand.

    The queue is read a page at a time, only as far as there are free seats, so a busy shop
    with a long queue pays for the seats it fills, not for the length of its queue.
    The caller holds the shop lock and commits (through `effects`).
    """
    rules = shop_rules(session, shop)
    agents = agent_states(session, shop.id, now)
    usernames = dict(session.execute(select(Agent.username, Agent.id).where(Agent.shop_id == shop.id)).all())
    made: list[tuple[int, Decision]] = []
    skip = 0
    while seats := sum(a.room for a in agents.values() if a.available):
        limit = min(QUEUE_PAGE, max(16, 2 * seats))  # one freed seat reads a short page
        rows = _queue_rows(session, shop, rules.queue_order, skip, limit)
        if not rows:
            break
        conversations = {c.id: c for c, _ in rows}
        page = drain(waiting.requests(session, shop, rules, rows, usernames, now), agents.values(), rules, now, rng)
        agent_rows = {a.id: a for a in session.scalars(select(Agent).where(Agent.id.in_(
            {d.agent_id for _, d in page})))} if page else {}
        # A waiting conversation has no open stint: only how many it has had is needed.
        stints = stint_counts(session, [conversation_id for conversation_id, _ in page]) if page else {}
        for conversation_id, decision in page:
            assign(session, effects, shop, conversations[conversation_id], agent_rows[decision.agent_id],
                   decision.group_id, now, stints_before=stints.get(conversation_id, 0))
            # One drain's assignments keep their order, so round robin rotates on from the last.
            agent_rows[decision.agent_id].last_assigned_at = now + timedelta(microseconds=len(made))
            state = agents[decision.agent_id]
            agents[state.id] = replace(state, active=state.active + 1)
            made.append((conversation_id, decision))
        session.flush()
        skip += len(rows) - len(page)
        if len(rows) < limit:
            break
    _tell_newcomers(session, effects, shop, rules, agents, usernames, now)
    if made:
        _tell_moves(session, effects, shop, rules, now)
    return made


def _tell_newcomers(session, effects, shop, rules, agents, usernames, now) -> None:
    """Shoppers routed for the first time and not assigned: queue position or leave-a-message."""
    rows = _queue_rows(session, shop, rules.queue_order, 0, 1000, unrouted=True)
    for item, (conversation, _) in zip(waiting.requests(session, shop, rules, rows, usernames, now), rows):
        decision = decide(item.request, agents.values(), rules, now)
        conversation.routed_at = now
        if decision.action == "wait":
            conversation.state = "waiting"
            notices.send_notice(session, effects, shop.settings, conversation, decision.notice, now)
        else:
            # The group is not stored: it follows from the entry context at every drain, and a
            # stored group would read as a transfer's and skip the shopper's own agents.
            conversation.state = "queued"
            conversation.queue_position_told = _position(session, shop, conversation, rules.queue_order)
            notices.send_notice(session, effects, shop.settings, conversation, "queue", now,
                                position=conversation.queue_position_told)
        effects.publish(names.CONVERSATION_QUEUED, conversation.id,
                        audience(None, conversation.state, conversation.customer_id),
                        payloads.conversation(conversation))


def _tell_moves(session, effects, shop, rules, now) -> None:
    """Shoppers whose place has moved up `queue_update_step` since they were last told it hear
    the new one, while their notice budget leaves room for the welcome still to come (the
    delivery keeps the agent's reserve in any case)."""
    step = shop.settings.get("queue_update_step", 5)
    if not step or not (shop.settings.get("queue_message") or "").strip():
        return
    rows = session.execute(
        select(Conversation, Customer.window_quota, Customer.window_expires_at)
        .join(Customer, Customer.id == Conversation.customer_id)
        .where(Conversation.shop_id == shop.id, Conversation.state.in_(WAITING_STATES))
        .order_by(*_drain_order(rules.queue_order))).all()
    moved = [(place, c, quota) for place, (c, quota, expires) in enumerate(rows, 1)
             if c.state == "queued" and c.queue_position_told is not None
             and c.queue_position_told - place >= step and expires is not None and expires > now]
    pending = _pending_notices(session, [c.id for _, c, _ in moved])
    for place, conversation, quota in moved:
        if quota - pending.get(conversation.id, 0) > NOTICE_RESERVE + 1:  # + the welcome
            conversation.queue_position_told = place
            notices.send_notice(session, effects, shop.settings, conversation, "queue", now, position=place)


def _pending_notices(session: Session, conversation_ids: list[int]) -> dict[int, int]:
    """Notices of these conversations not yet delivered: they will spend the budget too."""
    if not conversation_ids:
        return {}
    return dict(session.execute(
        select(Message.conversation_id, func.count())
        .where(Message.conversation_id.in_(conversation_ids), Message.sender == "system",
               Message.delivery.in_(("pending", "sending")))
        .group_by(Message.conversation_id)).all())


def _position(session: Session, shop: Shop, conversation: Conversation, order: str) -> int:
    """1-based place in the drain order: how many wait ahead, plus one."""
    mine = tuple_(Conversation.queued_at, Conversation.id)
    here = tuple_(literal(conversation.queued_at, Conversation.queued_at.type), literal(conversation.id))
    ahead = mine > here if order == "lifo" else mine < here
    return 1 + session.scalar(select(func.count()).select_from(Conversation).where(
        Conversation.shop_id == shop.id, Conversation.state.in_(WAITING_STATES), ahead))


def dispatch(session: Session, shop_id: int, now: datetime) -> int:
    """Route the shop's waiting shoppers now; returns how many were assigned."""
    effects = Effects(shop_id)
    shop = lock_shop(session, shop_id)
    made = dispatch_locked(session, effects, shop, now)
    effects.commit(session)
    return len(made)
