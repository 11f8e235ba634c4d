"""A shop under routing load from several processes, for the concurrency test and the bench.

`seed()` creates agents and a queue of waiting shoppers directly in the database; `churn()`
runs in each process: dispatch, end a random active conversation, now and then flip an
agent busy/online or change a capacity; `observe()` polls that no agent is ever above its
capacity and that no shopper has two open conversations.
"""
from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, insert, select

from bridge import create_app
from bridge.accounts.models import Login
from bridge.conversations import assignment, lifecycle
from bridge.infra import db
from bridge.models import Agent, Channel, Conversation, Customer, Shop


def app_for(database_url: str, redis_url: str | None):
    return create_app({"DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "load",
                       "WECHAT_API_BASE": "http://127.0.0.1:9"})


def seed(app, agents: int, capacity: int, shoppers: int) -> int:
    """A shop with `agents` online agents and `shoppers` queued conversations; returns its id."""
    now = datetime.now(timezone.utc)
    with db.new_session(app) as s:
        shop = Shop(key="load", name="Load", timezone="Asia/Shanghai", config_version=1,
                    settings={"routing": "least_load", "queue_order": "fifo", "rating_on_end": False,
                              "recent_contact_hours": 0, "welcome_message": "", "queue_message": ""})
        s.add(shop)
        s.flush()
        channel = Channel(shop_id=shop.id, kind="wechat_oa", key="load-oa", enabled=True,
                          settings={"app_id": "wx0000000000000000", "app_secret": "x", "token": "loadtoken"})
        s.add(channel)
        s.flush()
        s.execute(insert(Agent), [dict(shop_id=shop.id, username=f"a{i}", name=f"A{i}", password_hash="-",
                                       role="agent", status="online", max_concurrent=capacity, weight=1,
                                       active=True, token_version=1, created_at=now) for i in range(agents)])
        # Each agent has a client that keeps being heard from (accounts/presence.py).
        agent_ids = s.scalars(select(Agent.id).where(Agent.shop_id == shop.id)).all()
        s.execute(insert(Login), [dict(shop_id=shop.id, id=f"load-{a}", agent_id=a, created_at=now,
                                       last_seen_at=now + timedelta(days=1)) for a in agent_ids])
        s.execute(insert(Customer), [dict(shop_id=shop.id, channel_id=channel.id, external_id=f"o{i}",
                                          window_quota=5, window_expires_at=now + timedelta(hours=48),
                                          created_at=now) for i in range(shoppers)])
        customer_ids = s.scalars(select(Customer.id).where(Customer.shop_id == shop.id).order_by(Customer.id)).all()
        s.execute(insert(Conversation), [dict(
            shop_id=shop.id, channel_id=channel.id, customer_id=cid, state="queued",
            queued_at=now + timedelta(microseconds=n), routed_at=now, created_at=now)
            for n, cid in enumerate(customer_ids)])
        s.commit()
        return shop.id


def churn(database_url: str, redis_url: str | None, shop_id: int, rounds: int, seed_: int, start=None) -> dict:
    """One process's share of the load; returns what it did."""
    app = app_for(database_url, redis_url)
    rng = random.Random(seed_)
    done = {"assigned": 0, "ended": 0, "conflicts": 0, "status_changes": 0}
    with app.app_context():
        if start is not None:
            start.wait()
        with db.new_session(app) as s:
            for n in range(rounds):
                now = datetime.now(timezone.utc)
                done["assigned"] += assignment.dispatch(s, shop_id, now)
                active = s.scalars(select(Conversation.id).where(
                    Conversation.shop_id == shop_id, Conversation.state == "active").limit(50)).all()
                s.rollback()
                if active:
                    try:
                        lifecycle.end(s, rng.choice(active), datetime.now(timezone.utc), reason="load")
                        done["ended"] += 1
                    except lifecycle.Conflict:  # another process ended it first
                        s.rollback()
                        done["conflicts"] += 1
                if n % 10 == 5:
                    agent = s.get(Agent, rng.choice(s.scalars(select(Agent.id).where(Agent.shop_id == shop_id)).all()))
                    # Capacity only grows here: lowering it below the current load is allowed
                    # (the agent keeps its shoppers), which the observer would count as over.
                    change = rng.choice([{"status": "busy"}, {"status": "online"},
                                         {"max_concurrent": min(agent.max_concurrent + 1, 4)}])
                    lifecycle.set_status(s, agent, datetime.now(timezone.utc), **change)
                    done["status_changes"] += 1
            # leave everyone online so the final state can be checked against a full drain
            for agent in s.scalars(select(Agent).where(Agent.shop_id == shop_id)).all():
                if agent.status != "online":
                    lifecycle.set_status(s, agent, datetime.now(timezone.utc), status="online")
    return done


def overloads(session, shop_id: int) -> list[tuple[int, int, int]]:
    """(agent, active, max) for every agent above capacity right now."""
    rows = session.execute(
        select(Agent.id, func.count(Conversation.id), Agent.max_concurrent)
        .join(Conversation, (Conversation.agent_id == Agent.id) & (Conversation.state == "active"))
        .where(Agent.shop_id == shop_id).group_by(Agent.id, Agent.max_concurrent)).all()
    return [(a, n, m) for a, n, m in rows if n > m]


def observe(database_url: str, redis_url: str | None, shop_id: int, seconds: float, stop=None) -> list:
    """Poll for capacity violations until told to stop; returns every violation seen."""
    app = app_for(database_url, redis_url)
    seen: list = []
    deadline = time.monotonic() + seconds
    with db.new_session(app) as s:
        while time.monotonic() < deadline and not (stop is not None and stop.is_set()):
            seen.extend(overloads(s, shop_id))
            s.rollback()
            time.sleep(0.02)
    return seen
