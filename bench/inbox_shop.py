"""The inbox benchmark's shops (bench/inbox_live.py), and a full shift's open conversations.

Two shops in one shop file, loaded by the real loader (`flask --app wsgi shops load`):
- LIVE_SHOP: 50 agents (all role agent, left offline) watching the live streams; 75 keyword
  rules from bench/workload.py, whose filler alphabet no rule can match.
- LOAD_SHOP: an admin and 10 agents, 40 quick phrases: the shop whose inbox is loaded.

`seed_open_shift` fills LOAD_SHOP through the models, in one transaction: 500 open
conversations (active with the 10 agents, queued, waiting) with their messages, and a history
of ended ones, so the lists' queries run against more than the open rows alone.
"""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, insert, select
from sqlalchemy.orm import Session

from bench import workload
from bridge.config import normalize_database_url
from bridge.models import (
    Agent,
    Assignment,
    Channel,
    Conversation,
    Customer,
    Message,
    Shop,
)

LIVE_SHOP, LIVE_CHANNEL, LIVE_TOKEN, LIVE_APP_ID = "inbox-live", "inbox-live-oa", "inboxlivetoken", "wx0000000inboxlive"
LOAD_SHOP, LOAD_CHANNEL = "inbox-load", "inbox-load-oa"
LOAD_ADMIN, LOAD_AGENTS = "boss", tuple(f"ag{n:02d}" for n in range(10))


def password(username: str) -> str:
    return f"{username}-password"


def shop_file(live_agents: int) -> dict[str, Any]:
    """Both shops as a shop file."""
    oa = {"kind": "wechat_oa", "key": LIVE_CHANNEL, "app_id": LIVE_APP_ID,
          "app_secret": "inbox-live-secret", "token": LIVE_TOKEN}
    live = {"key": LIVE_SHOP, "name": "直播间旗舰店", "settings": {"routing": "least_load"}, "channels": [oa],
            "agents": [{"username": f"live{n:02d}", "password": password(f"live{n:02d}"), "name": f"客服{n:02d}"}
                       for n in range(live_agents)],
            "auto_replies": workload.rules(40, 30, 5)}
    load = {"key": LOAD_SHOP, "name": "大促旗舰店", "settings": {"routing": "least_load"},
            "channels": [{"kind": "wechat_oa", "key": LOAD_CHANNEL, "app_id": "wx0000000inboxload",
                          "app_secret": "inbox-load-secret", "token": "inboxloadtoken"}],
            "agents": [{"username": LOAD_ADMIN, "password": password(LOAD_ADMIN), "name": "店长", "role": "admin"}]
            + [{"username": u, "password": password(u), "name": f"客服{u}", "max_concurrent": 50} for u in LOAD_AGENTS],
            "quick_phrases": [{"title": f"常用语{n}", "text": f"亲，{workload.filler(random.Random(n), 10, 40)}"}
                              for n in range(40)]}
    return {"shops": [live, load]}


def seed_open_shift(database_url: str, active: int = 150, queued: int = 250, waiting: int = 100,
                    ended: int = 3000, seed: int = 5) -> dict[str, int]:
    """Open conversations in LOAD_SHOP (ACTIVE spread over its agents, QUEUED, WAITING; 6
    messages each, the shopper's last one unanswered) and ENDED ones (8 messages each), each
    shopper with one ended conversation before. One transaction; returns the rows made."""
    rng, now = random.Random(seed), datetime.now(UTC)
    engine = create_engine(normalize_database_url(database_url))
    with Session(engine) as session, session.begin():
        shop = session.scalar(select(Shop).where(Shop.key == LOAD_SHOP))
        channel = session.scalar(select(Channel).where(Channel.key == LOAD_CHANNEL))
        agents = session.scalars(select(Agent.id).where(Agent.shop_id == shop.id, Agent.role == "agent")
                                 .order_by(Agent.id)).all()
        shoppers = max(active + queued + waiting, ended)
        customer_ids = session.scalars(insert(Customer).returning(Customer.id, sort_by_parameter_order=True), [
            {"shop_id": shop.id, "channel_id": channel.id, "external_id": f"o-shift-{n:05d}",
             "nickname": f"顾客{n}", "subscribed": True, "last_inbound_at": now, "window_quota": 20,
             "window_expires_at": now + timedelta(hours=47)} for n in range(shoppers)]).all()
        rows = []
        for n in range(ended):
            start = now - timedelta(days=rng.uniform(1, 30))
            rows.append(_conversation(shop.id, channel.id, customer_ids[n], "ended", agents[n % len(agents)],
                                      start, ended_at=start + timedelta(minutes=12), end_reason="agent"))
        states = ["active"] * active + ["queued"] * queued + ["waiting"] * waiting
        for n, state in enumerate(states):
            start = now - timedelta(minutes=rng.uniform(1, 120))
            rows.append(_conversation(shop.id, channel.id, customer_ids[n], state,
                                      agents[n % len(agents)] if state == "active" else None, start))
        conversations = session.execute(insert(Conversation).returning(
            Conversation.id, Conversation.state, Conversation.agent_id, Conversation.created_at,
            sort_by_parameter_order=True), rows).all()
        messages = [m for c in conversations for m in _messages(shop.id, c, rng)]
        session.execute(insert(Message), messages)
        session.execute(insert(Assignment), [
            {"shop_id": shop.id, "conversation_id": c.id, "seq": 1, "agent_id": c.agent_id, "how": "route",
             "assigned_at": c.created_at} for c in conversations if c.agent_id is not None])
    engine.dispose()
    return {"customers": len(customer_ids), "conversations": len(conversations), "messages": len(messages),
            "open": active + queued + waiting}


def _conversation(shop_id: int, channel_id: int, customer_id: int, state: str, agent_id: int | None,
                  start: datetime, **ended: Any) -> dict[str, Any]:
    waits = state in ("queued", "waiting")
    return {"shop_id": shop_id, "channel_id": channel_id, "customer_id": customer_id, "state": state,
            "agent_id": agent_id, "queued_at": start if waits else None,
            "assigned_at": start if agent_id is not None else None, "routed_at": start,
            "last_customer_message_at": start + timedelta(minutes=5),
            "awaiting_reply_since": None if state == "ended" else start + timedelta(minutes=5),
            "created_at": start, "ended_at": None, "end_reason": None, **ended}


def _messages(shop_id: int, conversation, rng: random.Random) -> list[dict[str, Any]]:
    """The shopper and the agent (or the shop's notice) in turns, the shopper last."""
    count = 8 if conversation.state == "ended" else 6
    out = []
    for n in range(count):
        at = conversation.created_at + timedelta(seconds=50 * n)
        shopper = n % 2 == (count - 1) % 2
        text = workload.filler(rng, 6, 60)
        if shopper:
            answered = conversation.state == "ended" or (conversation.agent_id is not None and n < count - 1)
            out.append({"shop_id": shop_id, "conversation_id": conversation.id, "direction": "in",
                        "sender": "customer", "type": "text", "text": text, "external_id": str(rng.getrandbits(62)),
                        "expects_reply": True, "responded_at": at + timedelta(seconds=40) if answered else None,
                        "responded_by": conversation.agent_id if answered else None,
                        "created_at": at, "updated_at": at})
        else:
            by_agent = conversation.agent_id is not None
            out.append({"shop_id": shop_id, "conversation_id": conversation.id, "direction": "out",
                        "sender": "agent" if by_agent else "system", "agent_id": conversation.agent_id,
                        "type": "text", "text": text, "delivery": "sent", "attempts": 1, "sent_at": at,
                        "created_at": at, "updated_at": at})
    return out
