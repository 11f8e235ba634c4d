"""Who sees which conversation (bridge/visibility.py): one rule, and its three readings — a
conversation, the list's SQL filter and a live event — agree for every viewer and state. An
agent sees its own and those no agent has (the queue, leave-messages, the robot's)."""
from __future__ import annotations

import itertools
from datetime import datetime, timezone

from sqlalchemy import select

from bridge.infra import db
from bridge.models import CONVERSATION_STATES, Conversation, Customer
from bridge.visibility import Viewer, audience, conversation_filter, sees_conversation, sees_event


def test_the_three_readings_of_the_rule_agree(app, shop):
    alice, bob = shop.agents["alice"], shop.agents["bob"]  # alice is the shop's admin
    channel = shop.channels["acme-oa"]
    now = datetime.now(timezone.utc)
    with db.new_session(app) as s:
        for n, (state, owner) in enumerate(itertools.product(CONVERSATION_STATES, (None, alice.id, bob.id))):
            customer = Customer(shop_id=shop.id, channel_id=channel.id, external_id=f"o-{n}", created_at=now)
            s.add(customer)
            s.flush()
            s.add(Conversation(shop_id=shop.id, channel_id=channel.id, customer_id=customer.id,
                               state=state, agent_id=owner, created_at=now))
        s.commit()
        conversations = s.scalars(select(Conversation)).all()
        for agent in (alice, bob):
            viewer = Viewer(shop_id=shop.id, agent_id=agent.id, is_admin=agent.role == "admin")
            listed = set(s.scalars(select(Conversation.id).where(conversation_filter(viewer))))
            for c in conversations:
                event = {"audience": audience(c.agent_id, c.state, c.customer_id)}
                seen = sees_conversation(viewer, c)
                assert seen == (c.id in listed) == sees_event(viewer, event), (agent.username, c.state, c.agent_id)
            expected_for_bob = {c.id for c in conversations
                                if c.agent_id == bob.id or c.state in ("bot", "queued", "waiting")}
            assert listed == ({c.id for c in conversations} if agent is alice else expected_for_bob)

    other = Viewer(shop_id=shop.id + 1, agent_id=alice.id, is_admin=True)
    assert not any(sees_conversation(other, c) for c in conversations)  # another shop's admin


def test_an_event_after_a_change_reaches_whoever_saw_the_conversation_before():
    bob, carol = Viewer(1, 2, False), Viewer(1, 3, False)
    transferred = {"audience": audience(3, "active", 9, was_agent=2, was_state="active")}
    assert sees_event(bob, transferred) and sees_event(carol, transferred)
    assigned = {"audience": audience(2, "active", 9, was_state="queued")}  # left the queue
    assert sees_event(carol, assigned)
    ended = {"audience": audience(2, "ended", 9, was_state="active")}
    assert sees_event(bob, ended) and not sees_event(carol, ended)
