"""What each live event carries: enough for a client to render the change from the event alone.

Every event is read off the shop's Redis channel (what each web process's SSE streams pass
on), as shoppers write through the signed webhook, agents work through the API and the jobs
run in a real RQ worker. A message in an event must equal the message as GET
/conversations/<id>/messages gives it, and a conversation the conversation as GET
/conversations/<id> gives it: one shape, one rendering. Agents and groups are named by
username and key, never by internal id. Every test runs on SQLite and PostgreSQL.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from bridge.infra import db
from bridge.events.log import Listener
from bridge.models import Conversation
from tests.conftest import make_app
from tests.test_sessions import Desk, agent_of, rating_card, thanks, transferred, welcome

Event = dict[str, Any]


class Heard:
    """The events published in the shop's log since the listener started."""

    def __init__(self, desk: Desk):
        self.log = Listener(desk.app.extensions["redis"], desk.shop.id)
        self.events: list[Event] = []

    def until(self, done: Callable[[list[Event]], bool]) -> list[Event]:
        """Read until DONE holds of what was heard; the deadline only bounds a failure."""
        deadline = time.monotonic() + 10
        while not done(self.events):
            assert time.monotonic() < deadline, f"not heard; heard: {[e['type'] for e in self.events]}"
            self.events.extend(self.log.events(timeout=0.2))
        return self.events

    def one(self, type_: str, where: Callable[[Event], bool] = lambda e: True) -> Event:
        """The first event of TYPE that WHERE holds of, waiting for it."""
        found = self.until(lambda events: any(e["type"] == type_ and where(e) for e in events))
        return next(e for e in found if e["type"] == type_ and where(e))

    def message(self, type_: str, sender: str, text: str | None = None) -> Event:
        return self.one(type_, lambda e: e["message"]["sender"] == sender
                        and (text is None or e["message"]["text"] == text))


@pytest.fixture
def app(database_url, fake_wechat):
    """On the in-process Redis stand-in (the real-Redis publisher has tests/test_events.py;
    the stream, the last test here)."""
    app = make_app(database_url, None, fake_wechat.url)
    yield app
    db.dispose(app)


@pytest.fixture
def desk(app, fake_wechat) -> Desk:
    return Desk(app, app.test_client(), fake_wechat)


@pytest.fixture
def heard(desk: Desk):
    desk.load()
    listener = Heard(desk)
    return listener


def shown(desk: Desk, cid: int) -> dict:
    """The conversation as GET /conversations/<id> gives it, without what a client keeps from
    the messages themselves (last message, unanswered count, response figures, send window)."""
    extras = ("last_message", "unanswered", "queue_position", "metrics", "send_window")
    return {k: v for k, v in desk.get(cid).items() if k not in extras}


def as_listed(desk: Desk, cid: int, message_id: int) -> dict:
    return next(m for m in desk.messages(cid) if m["id"] == message_id)


def no_internal_ids(event: Event) -> None:
    """Agents and groups by username and key: no `agent_id`, `to_agent: 7`, … anywhere (a message's
    `client_id` is the page's own id for a send, not a row's)."""
    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                assert key in ("conversation_id", "external_id", "client_id") or not key.endswith("_id"), f"{path}.{key}"
                walk(item, f"{path}.{key}")
    walk({k: v for k, v in event.items() if k != "audience"}, event["type"])
    for key in ("to_agent", "from_agent", "to_group"):
        assert not isinstance(event.get(key), int), event


def test_the_robots_answer_and_a_new_conversation_carry_what_a_client_shows(desk, heard):
    desk.write("o-robot", "hi")  # a keyword: the robot answers, the conversation stays its own

    opened = heard.one("conversation.opened")
    shopper = heard.message("message.created", "customer")
    robot = heard.message("message.created", "bot")
    cid = opened["conversation_id"]
    assert opened["conversation"] == shown(desk, cid)
    assert (opened["conversation"]["state"], opened["conversation"]["customer"]["external_id"],
            opened["conversation"]["channel"]) == ("bot", "o-robot", {"key": "acme-oa", "kind": "wechat_oa"})
    assert (shopper["message"]["text"], shopper["message"]["direction"]) == ("hi", "in")
    assert (robot["message"]["text"], robot["message"]["direction"]) == ("hello!", "out")
    for event in (shopper, robot):
        assert event["conversation_id"] == cid
        assert event["message"] == as_listed(desk, cid, event["message"]["id"])
        no_internal_ids(event)
    assert not any(e["type"] == "conversation.queued" for e in heard.events)


def test_queueing_assignment_and_the_welcome_carry_the_conversation_and_the_message(desk, heard):
    desk.online("alice")
    desk.write("o-queue", "在吗")
    queued = heard.one("conversation.queued")
    cid = queued["conversation_id"]
    assert (queued["conversation"]["state"], queued["conversation"]["agent"]) == ("queued", None)
    assert queued["conversation"]["customer"]["external_id"] == "o-queue"
    assert queued["conversation"]["queued_at"] == shown(desk, cid)["queued_at"]

    desk.jobs()  # routing, then the welcome's delivery
    assigned = heard.one("conversation.assigned")
    assert assigned["conversation"] == shown(desk, cid)
    assert (assigned["conversation"]["state"], agent_of(assigned["conversation"])) == ("active", "alice")
    hello = heard.message("message.created", "system", welcome("Alice"))
    assert hello["message"]["delivery"]["state"] == "pending"
    sent = heard.one("message.updated", lambda e: e["message"]["id"] == hello["message"]["id"])
    assert sent["message"]["delivery"]["state"] == "sent"
    assert sent["message"] == as_listed(desk, cid, hello["message"]["id"])
    for event in (queued, assigned, hello, sent):
        no_internal_ids(event)


def test_an_agents_reply_names_its_agent_and_its_delivery_reaches_the_stream(desk, heard):
    cid = desk.served("alice", "o-reply", "问个问题")
    desk.reply("alice", cid, "您好")
    reply = heard.message("message.created", "agent", "您好")
    assert reply["message"]["agent"] == {"username": "alice", "name": "Alice"}
    assert reply["message"]["delivery"]["state"] == "pending"

    desk.jobs()
    sent = heard.one("message.updated", lambda e: e["message"]["id"] == reply["message"]["id"])
    assert sent["message"] == as_listed(desk, cid, reply["message"]["id"])
    assert (sent["message"]["delivery"]["state"], sent["message"]["delivery"]["attempts"]) == ("sent", 1)
    no_internal_ids(reply)


def test_a_delivery_that_fails_tells_the_agent_why(desk, heard):
    cid = desk.served("alice", "o-gone", "问个问题")
    desk.fake.fail_next("/cgi-bin/message/custom/send", 45015)  # the shopper's window is over
    desk.reply("alice", cid, "还在吗")
    reply = heard.message("message.created", "agent", "还在吗")
    desk.jobs()
    failed = heard.one("message.updated", lambda e: e["message"]["id"] == reply["message"]["id"])
    assert failed["message"]["delivery"]["state"] == "failed"
    assert failed["message"]["delivery"]["error"]["code"] == "45015"
    assert failed["message"] == as_listed(desk, cid, reply["message"]["id"])


def test_transfers_name_the_agent_or_group_by_username_and_key(desk, heard):
    cid = desk.served("alice", "o-transfer", "问个问题")
    desk.online("bob")
    desk.post("alice", cid, "transfer", agent="bob")
    to_bob = heard.one("conversation.transferred")
    assert (to_bob["to_agent"], to_bob["to_group"]) == ("bob", None)
    assert agent_of(to_bob["conversation"]) == "bob"
    assert to_bob["conversation"] == shown(desk, cid)
    heard.message("message.created", "system", transferred("Bob"))

    desk.post("bob", cid, "transfer", group="presales")
    to_group = heard.one("conversation.transferred", lambda e: e["to_group"] is not None)
    assert (to_group["to_agent"], to_group["to_group"]) == (None, "presales")
    # The conversation as committed: queued for presales, and routed in the same commit.
    assert to_group["conversation"] == shown(desk, cid)
    assert to_group["conversation"]["group"] == "presales"
    for event in (to_bob, to_group):
        no_internal_ids(event)


def test_ending_and_rating_carry_the_conversation_and_the_shops_notices(desk, heard):
    cid = desk.served("alice", "o-rating", "问个问题")
    desk.post("alice", cid, "end")
    ended = heard.one("conversation.ended")
    assert ended["reason"] == "agent"
    assert (ended["conversation"]["state"], ended["conversation"]["end_reason"]) == ("ended", "agent")
    assert agent_of(ended["conversation"]) == "alice"
    card = heard.message("message.created", "system", rating_card("Alice"))
    assert card["conversation_id"] == cid

    desk.write("o-rating", "5 很好")
    rated = heard.one("conversation.rated")
    assert rated["score"] == 5
    assert rated["conversation"]["rating"]["score"] == 5
    assert rated["conversation"] == shown(desk, cid)
    answer = heard.message("message.created", "customer", "5 很好")
    thanked = heard.message("message.created", "system", thanks("Alice"))
    for event in (answer, thanked):
        assert event["message"] == {**as_listed(desk, cid, event["message"]["id"]),
                                    **({"delivery": event["message"]["delivery"]} if event is thanked else {})}
    for event in (ended, card, rated, answer, thanked):
        no_internal_ids(event)


def test_an_agent_going_offline_requeues_its_shoppers_and_names_itself(desk, heard):
    cid = desk.served("bob", "o-offline", "问个问题")
    desk.me("bob", status="offline", force=True)
    requeued = heard.one("conversation.requeued")
    assert requeued["conversation_id"] == cid
    # As committed: back in the queue, and routed at once to leave-a-message (nobody is online).
    assert requeued["conversation"] == shown(desk, cid)
    assert (requeued["conversation"]["state"], requeued["conversation"]["agent"]) == ("waiting", None)
    updated = heard.one("agent.updated", lambda e: (e.get("agent") or {}).get("username") == "bob"
                        and e["agent"]["status"] == "offline")
    assert "conversation_id" not in updated
    assert updated["agent"] == {"username": "bob", "name": "Bob", "status": "offline",
                                "max_concurrent": updated["agent"]["max_concurrent"],
                                "active_conversations": 0}
    desk.me("alice", status="online", max_concurrent=3)
    alice = heard.one("agent.updated", lambda e: (e.get("agent") or {}).get("username") == "alice"
                      and e["agent"]["max_concurrent"] == 3)
    # alice takes bob's shopper in the same commit: her load counts it.
    assert (alice["agent"]["status"], alice["agent"]["max_concurrent"]) == ("online", 3)
    assert alice["agent"]["active_conversations"] == desk.agents()["alice"]["active_conversations"] == 1
    for event in (requeued, updated, alice):
        no_internal_ids(event)


def test_reassignment_names_the_agent_it_came_from(desk, heard):
    desk.load(settings={"agent_reply_timeout_minutes": 5, "customer_idle_minutes": 0})
    cid = desk.served("alice", "o-slow", "在吗在吗")
    desk.online("bob")
    desk.set(Conversation, cid, awaiting_reply_since=desk.ago(minutes=6), assigned_at=desk.ago(minutes=6))
    assert desk.sweep()["reassigned"] == 1
    moved = heard.one("conversation.reassigned")
    assert moved["from_agent"] == "alice"
    assert agent_of(moved["conversation"]) == "bob"
    assert moved["conversation"] == shown(desk, cid)
    no_internal_ids(moved)


def test_the_stream_gives_an_agent_the_message_and_not_the_audience(live_app, fake_wechat):
    desk = Desk(live_app, live_app.test_client(), fake_wechat).load()
    cid = desk.served("bob", "o-sse", "bob的顾客")
    resp = desk.client.get("/api/v1/events?max_seconds=20", headers=desk.h("bob"), buffered=False)
    frames = iter(resp.response)
    assert ": connected" in next(frames).decode()

    writer = threading.Thread(target=lambda: desk.write("o-sse", "又说一句"))
    writer.start()
    stream = ""
    for chunk in frames:
        stream += chunk.decode()
        if "又说一句" in stream and stream.endswith("\n\n"):
            break
    writer.join()
    resp.close()

    [frame] = [f for f in stream.split("\n\n") if "又说一句" in f]
    event_id, kind, data = frame.split("\n", 2)
    assert event_id.startswith("id: ")
    event = json.loads(data.removeprefix("data: "))
    assert kind == "event: message.created" and "audience" not in event
    assert event["conversation_id"] == cid
    assert event["message"] == as_listed(desk, cid, event["message"]["id"])
    assert (event["message"]["sender"], event["message"]["text"]) == ("customer", "又说一句")


@pytest.fixture
def live_app(database_url, real_redis_url, fake_wechat):
    app = make_app(database_url, real_redis_url, fake_wechat.url)
    yield app
    db.dispose(app)
