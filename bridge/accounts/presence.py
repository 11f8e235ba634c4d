"""Presence: whether an agent's inbox or API client is there, read from its logins.

An agent is present while any of its logins has been heard from (a request with its token, an
open event stream's beat) within PRESENCE_TIMEOUT_SECONDS; else away. An agent marked online
who is away keeps its shoppers and takes no new ones (routing reads `present_agents`) until
heard from again, when the shop's queue drains to it. Going away needs nothing to run, so a
restart leaves nobody routable who has not been heard from since; the sweep only tells the
live streams (`announce_away`).

Writes are few: a login's `last_seen_at` is written at most every `write_every` (a conditional
UPDATE, so of several processes hearing from one login at once a single one writes and, if
the agent was away, announces its return).
"""
from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

import redis
from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from bridge import keys
from bridge.accounts.models import Login
from bridge.effects import Effects
from bridge.events import names, payloads
from bridge.models import Agent
from bridge.visibility import agent_audience

log = logging.getLogger(__name__)

PRESENT, AWAY = "present", "away"
WRITE_EVERY_SECONDS = 30  # at most; a short timeout writes more often (a quarter of it)


def timeout() -> timedelta:
    """The app's PRESENCE_TIMEOUT_SECONDS."""
    return timedelta(seconds=current_app.config["PRESENCE_TIMEOUT_SECONDS"])


def write_every(limit: timedelta) -> timedelta:
    return min(timedelta(seconds=WRITE_EVERY_SECONDS), limit / 4)


def last_seen(session: Session, shop_id: int, agent_id: int | None = None) -> dict[int, datetime]:
    """When each of the shop's agents (or AGENT_ID alone) was last heard from; absent: no login."""
    query = (select(Login.agent_id, func.max(Login.last_seen_at)).where(Login.shop_id == shop_id)
             .group_by(Login.agent_id))
    if agent_id is not None:
        query = query.where(Login.agent_id == agent_id)
    return dict(session.execute(query).all())


def state(seen: datetime | None, now: datetime, limit: timedelta) -> str:
    return PRESENT if seen is not None and seen >= now - limit else AWAY


def present_agents(session: Session, shop_id: int, now: datetime, limit: timedelta) -> set[int]:
    """The shop's agents heard from within LIMIT before NOW."""
    return set(session.scalars(select(Login.agent_id).distinct().where(
        Login.shop_id == shop_id, Login.last_seen_at >= now - limit)))


def heard_from(session: Session, login: Login, now: datetime, limit: timedelta) -> bool:
    """LOGIN's client was heard from at NOW. Written only when the last write is `write_every`
    old, and then committed; True when the agent had been away: its return is told and, if it
    is online, its shop's queue drains to it (a dispatch job)."""
    if login.last_seen_at >= now - write_every(limit):
        return False
    away = login.last_seen_at < now - limit and not _present_elsewhere(session, login, now, limit)
    written = session.execute(update(Login).where(
        Login.shop_id == login.shop_id, Login.id == login.id,
        Login.last_seen_at < now - write_every(limit)).values(last_seen_at=now)).rowcount
    if not written:  # another request of this login wrote first, and told what there was to tell
        return False
    _commit(session, login.agent, PRESENT if away else None)
    return away


def arrived(session: Session, login: Login, now: datetime, limit: timedelta) -> bool:
    """A new LOGIN (added, not committed) is heard from: committed, and the agent's return told
    (and the queue drained to it) if no other login of it was present. True: it returned."""
    session.flush()
    away = not _present_elsewhere(session, login, now, limit)
    _commit(session, login.agent, PRESENT if away else None)
    return away


def _present_elsewhere(session: Session, login: Login, now: datetime, limit: timedelta) -> bool:
    """Whether another login of LOGIN's agent has been heard from within LIMIT."""
    return session.scalar(select(func.count()).select_from(Login).where(
        Login.shop_id == login.shop_id, Login.agent_id == login.agent_id, Login.id != login.id,
        Login.last_seen_at >= now - limit)) > 0


def left(session: Session, agent: Agent, now: datetime, limit: timedelta) -> bool:
    """AGENT signed out of one login (deleted, not committed): committed, and if no other login
    of it is present, it is away from now on, and told. True: it is away."""
    session.flush()
    away = agent.id not in present_agents(session, agent.shop_id, now, limit)
    _commit(session, agent, AWAY if away else None)
    return away


def _commit(session: Session, agent: Agent, told: str | None) -> None:
    """Commit; then tell a change of presence (TOLD) to the agent and the admins, and keep the
    sweep's note of who has been told away (`announce_away`) in step with it. An offline
    agent's comings and goings change nothing anyone waits for: not told."""
    if told is None or agent.status == "offline":
        session.commit()
    else:
        effects = Effects(agent.shop_id, dispatch=told == PRESENT and agent.status == "online")
        effects.publish(names.AGENT_UPDATED, None, agent_audience(agent.id), fill=_told(agent, told))
        effects.commit(session)
    if told is None:
        return
    try:
        client = current_app.extensions["redis"]
        if told == PRESENT:
            client.delete(keys.agent_away(agent.shop_id, agent.id))
        else:
            client.set(keys.agent_away(agent.shop_id, agent.id), "1")
    except redis.RedisError:
        log.warning("agent %s: presence note not kept; the sweep may tell it again", agent.id)


def _told(agent: Agent, presence: str) -> payloads.Fill:
    """agent.updated's `agent` (events/names.py), with its PRESENCE."""
    shape = payloads.agent(agent)
    return lambda session: {"agent": {**shape(session)["agent"], "presence": presence}}


def announce_away(session: Session, client: redis.Redis, now: datetime, limit: timedelta) -> int:
    """Tell the live streams of each agent marked online who has gone away since it was last
    heard from, once: a Redis key per agent (set here, cleared on its return) marks it told,
    so several sweeps at once, or one every interval, tell it a single time."""
    seen = select(Login.agent_id).where(Login.shop_id == Agent.shop_id, Login.agent_id == Agent.id,
                                        Login.last_seen_at >= now - limit).exists()
    rows = session.execute(select(Agent).where(
        Agent.status == "online", Agent.active.is_(True), ~seen)).scalars().all()
    by_shop: dict[int, list[tuple[int, dict]]] = defaultdict(list)
    for agent in rows:
        if client.set(keys.agent_away(agent.shop_id, agent.id), "1", nx=True):
            by_shop[agent.shop_id].append((agent.id, _told(agent, AWAY)(session)))
    session.rollback()  # end the read (on SQLite every transaction holds the writer lock)
    for shop_id, told in by_shop.items():
        effects = Effects(shop_id)
        for agent_id, event in told:
            effects.publish(names.AGENT_UPDATED, None, agent_audience(agent_id), **event)
        effects.after_commit()
    return sum(map(len, by_shop.values()))


def beat(session: Session, shop_id: int, login_id: str, now: datetime, limit: timedelta) -> bool:
    """An open event stream's client is there: heard from. False once its login is signed out
    (the stream ends)."""
    login = session.get(Login, (shop_id, login_id))
    if login is None:
        return False
    heard_from(session, login, now, limit)
    return True
