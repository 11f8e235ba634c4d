"""Routing and the session lifecycle, end to end, as shoppers and agents meet them.

Shoppers write through the signed OA webhook, agents work through the agent API, and the
jobs that route and deliver run in a real RQ worker (burst mode); WeChat's API is the fake
of tests/fake_wechat.py, so what a shopper was told is what reached it. Every test runs on
SQLite and PostgreSQL. Time is moved by editing timestamps in the database, then running the
timers (bridge/conversations/timers.py) or the periodic sweep: nothing here waits for the clock.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from sqlalchemy import select, update

from bridge.conversations import timers
from bridge.infra import db, tasks
from bridge.models import Conversation, Customer, InboundReceipt, Message
from bridge.shops.file import SETTINGS
from jobs.sweep import sweep
from tests.conftest import make_app
from tests.factories import BurstWorker, load_shop, login, post_acme, post_oa, push_xml, shop_doc, text_xml

DEFAULTS = SETTINGS({}, "settings")
NO_AGENT = DEFAULTS["no_agent_message"]
OFF_HOURS = DEFAULTS["off_hours_message"]
FALLBACK = DEFAULTS["robot_fallback_message"]


def welcome(name: str) -> str:
    return f"您好，我是{name}，请问有什么可以帮您？"


def transferred(name: str) -> str:
    """What the shopper is told, once, when another agent takes over (not a second welcome)."""
    return f"已为您转接客服{name}"


def rating_card(name: str) -> str:
    return DEFAULTS["rating_message"].replace("{agent}", name)


def thanks(name: str) -> str:
    return f"感谢您对客服{name}的评价"


RATING_HINT = "请回复1-5分评价（5分最满意）；有新的问题请再发一次。"


def queue_notice(position: int) -> str:
    return f"当前排队第{position}位，请稍候。"


# -- the shop's desk ---------------------------------------------------------------------------

def agent(username: str, role: str = "agent", **extra: Any) -> dict[str, Any]:
    return {"username": username, "password": f"{username}-password", "name": username.capitalize(),
            "role": role, **extra}


# alice is the shop's admin (she sees everything); bob and carol are plain agents.
TEAM = [agent("alice", "admin", groups=["presales"]), agent("bob"), agent("carol")]


class Desk:
    """The shop's side of things: load it, be its agents, be its shoppers, run its jobs."""

    def __init__(self, app: Flask, client, fake):
        self.app, self.client, self.fake = app, client, fake
        self._tokens: dict[str, dict[str, str]] = {}

    def load(self, settings: dict[str, Any] | None = None, agents: list[dict] | None = None,
             **overrides: Any) -> Desk:
        doc = shop_doc(settings=settings or {}, agents=agents or TEAM, **overrides)
        self.shop = load_shop(self.app, doc)
        return self

    # agents

    def h(self, username: str) -> dict[str, str]:
        if username not in self._tokens:
            self._tokens[username] = login(self.client, username)
        return self._tokens[username]

    def me(self, username: str, expect: int = 200, **body: Any) -> dict:
        resp = self.client.patch("/api/v1/me", headers=self.h(username), json=body)
        assert resp.status_code == expect, resp.get_json()
        return resp.get_json()

    def online(self, *usernames: str) -> None:
        for username in usernames:
            self.me(username, status="online")

    def post(self, username: str, cid: int, action: str, expect: int = 200, **body: Any) -> dict:
        resp = self.client.post(f"/api/v1/conversations/{cid}/{action}", headers=self.h(username),
                                json=body if body or action == "transfer" else None)
        assert resp.status_code == expect, (action, resp.get_json())
        return resp.get_json()

    def reply(self, username: str, cid: int, text: str, expect: int = 201) -> dict:
        return self.post(username, cid, "messages", expect, type="text", text=text)

    def get(self, cid: int, username: str = "alice") -> dict:
        resp = self.client.get(f"/api/v1/conversations/{cid}", headers=self.h(username))
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()

    def messages(self, cid: int, username: str = "alice") -> list[dict]:
        resp = self.client.get(f"/api/v1/conversations/{cid}/messages", headers=self.h(username))
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()["items"]

    def conversations(self, openid: str) -> list[dict]:
        """The shopper's conversations as the admin sees them, oldest first."""
        resp = self.client.get("/api/v1/conversations?limit=500", headers=self.h("alice"))
        return sorted((c for c in resp.get_json()["items"] if c["customer"]["external_id"] == openid),
                      key=lambda c: c["id"])

    def conv_active(self, username: str) -> int:
        """The id of the one conversation the agent serves now."""
        resp = self.client.get("/api/v1/conversations?state=active", headers=self.h(username))
        [mine] = [c for c in resp.get_json()["items"] if agent_of(c) == username]
        return mine["id"]

    def delivery_state(self, cid: int, message_id: int) -> str:
        return next(m["delivery"]["state"] for m in self.messages(cid) if m["id"] == message_id)

    def conv(self, openid: str) -> dict:
        """The shopper's latest conversation."""
        return self.conversations(openid)[-1]

    def served(self, username: str, openid: str, text: str) -> int:
        """The agent goes online, the shopper writes, the jobs run: the shopper's conversation."""
        self.online(username)
        self.write(openid, text)
        self.jobs()
        return self.conv(openid)["id"]

    def agents(self) -> dict[str, dict]:
        resp = self.client.get("/api/v1/agents", headers=self.h("bob"))
        return {a["username"]: a for a in resp.get_json()["items"]}

    # shoppers

    def write(self, openid: str, text: str):
        resp = post_acme(self.client, text_xml(openid, text))
        assert resp.status_code == 200, resp.data
        return resp

    def subscribe(self, openid: str, scene: str) -> None:
        resp = post_acme(self.client, push_xml(
            openid, f"<MsgType>event</MsgType><Event>subscribe</Event>"
                    f"<EventKey>qrscene_{scene}</EventKey><Ticket>T</Ticket>"))
        assert resp.data == b"success"

    def told(self, openid: str) -> list[str]:
        """What reached the shopper through WeChat's customer-service API, in order."""
        return [body["text"]["content"] for body in self.fake.sent(openid)]

    # the machinery

    def jobs(self) -> None:
        """Run what is queued (routing, deliveries) with a real RQ worker, in burst mode."""
        with self.app.app_context():
            BurstWorker(tasks.worker_queues(self.app),
                        connection=self.app.extensions["redis"]).work(burst=True)

    def sweep(self) -> dict[str, int]:
        with self.app.app_context():
            return sweep()

    def set(self, model, row_id: int, **values: Any) -> None:
        with db.new_session(self.app) as session:
            session.execute(update(model).where(model.id == row_id).values(**values))
            session.commit()

    def ago(self, **delta: float) -> datetime:
        return datetime.now(timezone.utc) - timedelta(**delta)

    def customer_id(self, openid: str) -> int:
        with db.new_session(self.app) as session:
            return session.scalar(select(Customer.id).where(Customer.external_id == openid))

    def agent_id(self, username: str) -> int:
        return self.shop.agents[username].id


@pytest.fixture
def desk(app, client, fake_wechat) -> Desk:
    return Desk(app, client, fake_wechat)


def agent_of(conversation: dict) -> str | None:
    return conversation["agent"]["username"] if conversation["agent"] else None


# -- 1, 2: leave a message, or be welcomed ------------------------------------------------------

def _not_today_in_shanghai() -> int:
    """An ISO weekday two days from today in the shop's zone: never today, even at midnight."""
    today = datetime.now(ZoneInfo("Asia/Shanghai")).isoweekday()
    return (today + 1) % 7 + 1


@pytest.mark.parametrize("closed_today, notice, other", [
    pytest.param(False, NO_AGENT, OFF_HOURS, id="no-hours-set-always-open"),
    pytest.param(True, OFF_HOURS, NO_AGENT, id="closed-today"),
])
def test_nobody_online_leaves_a_message_and_the_first_agent_online_takes_it(desk, closed_today, notice, other):
    hours = [{"days": [_not_today_in_shanghai()], "start": "00:00", "end": "23:59"}] if closed_today else []
    desk.load(settings={"working_hours": hours})
    desk.write("o-leave", "我想问一下尺码")
    assert desk.conv("o-leave")["state"] == "queued"  # the dispatch job has not run yet

    desk.jobs()

    c = desk.conv("o-leave")
    assert (c["state"], c["agent"]) == ("waiting", None)
    assert desk.told("o-leave") == [notice]
    assert other not in desk.told("o-leave")

    desk.online("bob")
    desk.jobs()

    c = desk.conv("o-leave")
    assert (c["state"], agent_of(c)) == ("active", "bob")
    assert c["assigned_at"] is not None
    assert desk.told("o-leave") == [notice, welcome("Bob")]


def test_new_shopper_with_an_agent_online_is_assigned_by_the_dispatch_job_and_welcomed(desk):
    desk.load()
    desk.online("alice")
    desk.write("o-new", "这件有S码吗")
    c = desk.conv("o-new")
    assert (c["state"], c["agent"]) == ("queued", None)
    assert desk.told("o-new") == []

    desk.jobs()

    c = desk.conv("o-new")
    assert (c["state"], agent_of(c)) == ("active", "alice")
    assert desk.told("o-new") == ["您好，我是Alice，请问有什么可以帮您？"]
    assert [(m["sender"], m["text"], m["delivery"] and m["delivery"]["state"])
            for m in desk.messages(c["id"])] == [
        ("customer", "这件有S码吗", None), ("system", welcome("Alice"), "sent")]


# -- 3: the queue -------------------------------------------------------------------------------

@pytest.mark.parametrize("order, first_served", [("fifo", "o-q2"), ("lifo", "o-q3")])
def test_full_agents_queue_shoppers_in_order_and_an_end_serves_the_next(desk, order, first_served):
    desk.load(settings={"queue_order": order},
              agents=[agent("alice", "admin", max_concurrent=1), agent("bob")])
    desk.online("alice")
    desk.write("o-q1", "第一位")
    desk.jobs()
    desk.write("o-q2", "第二位")
    desk.write("o-q3", "第三位")
    desk.jobs()

    assert (desk.conv("o-q1")["state"], agent_of(desk.conv("o-q1"))) == ("active", "alice")
    assert desk.conv("o-q2")["state"] == desk.conv("o-q3")["state"] == "queued"
    # Positions are the drain order: the newest is first in a LIFO queue.
    positions = {"fifo": ("o-q2", "o-q3"), "lifo": ("o-q3", "o-q2")}[order]
    assert desk.told(positions[0]) == [queue_notice(1)]
    assert desk.told(positions[1]) == [queue_notice(2)]

    desk.post("alice", desk.conv("o-q1")["id"], "end")
    desk.jobs()

    waiting = "o-q3" if first_served == "o-q2" else "o-q2"
    assert (desk.conv(first_served)["state"], agent_of(desk.conv(first_served))) == ("active", "alice")
    assert desk.told(first_served)[-1] == welcome("Alice")
    assert desk.conv(waiting)["state"] == "queued"
    assert len(desk.told(waiting)) == 1  # told its place once, not again at every drain
    assert desk.agents()["alice"]["active_conversations"] == 1


def test_raising_capacity_drains_the_queue(desk):
    desk.load(agents=[agent("alice", "admin", max_concurrent=1), agent("bob")])
    desk.online("alice")
    for n in range(1, 4):
        desk.write(f"o-cap{n}", "在吗")
        desk.jobs()
    assert [desk.conv(f"o-cap{n}")["state"] for n in range(1, 4)] == ["active", "queued", "queued"]

    me = desk.me("alice", max_concurrent=3)

    assert me["max_concurrent"] == 3
    assert [(desk.conv(f"o-cap{n}")["state"], agent_of(desk.conv(f"o-cap{n}")))
            for n in range(1, 4)] == [("active", "alice")] * 3
    desk.jobs()
    assert desk.told("o-cap3") == [queue_notice(2), welcome("Alice")]
    assert desk.agents()["alice"]["active_conversations"] == 3


# -- 4: the shopper's own agents, and entry routes ------------------------------------------------

@pytest.mark.parametrize("hours, expected", [(72, "bob"), (0, "alice")])
def test_returning_shopper_goes_back_to_the_recent_agent(desk, hours, expected):
    desk.load(settings={"recent_contact_hours": hours, "rating_on_end": False})
    desk.online("bob")
    desk.write("o-back", "上次的订单")
    desk.jobs()
    first = desk.conv("o-back")
    assert agent_of(first) == "bob"
    desk.post("bob", first["id"], "end")
    desk.online("alice")  # idle, never assigned: least_load's choice

    desk.write("o-back", "又有个问题")
    desk.jobs()

    second = desk.conv("o-back")
    assert second["id"] != first["id"]
    assert (second["state"], agent_of(second)) == ("active", expected)


def test_exclusive_agent_serves_their_shopper(desk):
    desk.load()
    desk.online("bob")
    desk.write("o-busybob", "先来的")
    desk.jobs()  # bob now serves one; alice, online next with none, is least_load's choice
    desk.online("alice")
    desk.subscribe("o-vip", "poster")
    desk.set(Customer, desk.customer_id("o-vip"), exclusive_agent_id=desk.agent_id("bob"))

    desk.write("o-vip", "我的专属客服呢")
    desk.write("o-plain", "随便问问")
    desk.jobs()

    assert agent_of(desk.conv("o-vip")) == "bob"
    assert agent_of(desk.conv("o-plain")) == "alice"


def test_entry_route_sends_a_qr_scene_to_its_group(desk):
    desk.load(groups=[{"key": "presales", "name": "售前"}, {"key": "vip", "name": "VIP"}],
              entry_routes=[{"when": {"scene": "vip"}, "group": "vip"}],
              agents=[agent("alice", "admin"), agent("bob"), agent("carol", groups=["vip"])])
    desk.online("alice", "bob", "carol")
    desk.subscribe("o-scene", "vip")

    desk.write("o-scene", "会员价多少")
    desk.jobs()
    desk.write("o-noscene", "普通咨询")
    desk.jobs()

    vip = desk.conv("o-scene")
    assert (vip["state"], agent_of(vip), vip["group"]) == ("active", "carol", "vip")
    plain = desk.conv("o-noscene")
    assert (agent_of(plain), plain["group"]) == ("alice", None)


@pytest.mark.parametrize("allowed, expected", [(True, "bob"), (False, "alice")])
def test_shopper_chooses_an_agent_by_qr_scene_when_the_shop_allows(desk, allowed, expected):
    desk.load(settings={"customer_chooses_agent": allowed})
    desk.online("alice", "bob")
    desk.subscribe("o-choose", "agent_bob")

    desk.write("o-choose", "找Bob")
    desk.jobs()

    assert agent_of(desk.conv("o-choose")) == expected


# -- 5: robot first -------------------------------------------------------------------------------

def test_robot_first_answers_then_hands_over_on_request(desk):
    desk.load(settings={"robot_first": True})
    desk.online("alice")

    resp = desk.write("o-robot", "你们的面料是什么")
    assert FALLBACK in resp.data.decode()
    resp = desk.write("o-robot", "什么时候发货")
    assert "48小时内发货" in resp.data.decode()  # a keyword rule still answers first
    desk.jobs()
    c = desk.conv("o-robot")
    assert (c["state"], c["agent"]) == ("bot", None)
    assert desk.told("o-robot") == []

    resp = desk.write("o-robot", "转人工")
    assert resp.data == b"success"
    assert desk.conv("o-robot")["state"] == "queued"
    desk.jobs()

    [c] = desk.conversations("o-robot")  # the bot's conversation, handed over
    assert (c["state"], agent_of(c)) == ("active", "alice")
    assert desk.told("o-robot") == [welcome("Alice")]
    assert [(m["sender"], m["text"]) for m in desk.messages(c["id"])][:4] == [
        ("customer", "你们的面料是什么"), ("bot", FALLBACK),
        ("customer", "什么时候发货"), ("bot", "48小时内发货")]


# -- 6: agent status ------------------------------------------------------------------------------

def test_going_offline_with_shoppers_needs_force_which_requeues_them(desk):
    desk.load()
    cid = desk.served("alice", "o-off", "在吗")

    error = desk.me("alice", expect=409, status="offline")["error"]
    assert error["code"] == "conflict"
    assert desk.client.get("/api/v1/me", headers=desk.h("alice")).get_json()["status"] == "online"
    assert (desk.get(cid)["state"], agent_of(desk.get(cid))) == ("active", "alice")

    desk.online("bob")
    assert desk.me("alice", status="offline", force=True)["status"] == "offline"

    c = desk.get(cid)
    assert (c["state"], agent_of(c)) == ("active", "bob")
    desk.jobs()
    assert desk.told("o-off") == [welcome("Alice"), transferred("Bob")]
    loads = desk.agents()
    assert (loads["alice"]["status"], loads["alice"]["active_conversations"]) == ("offline", 0)
    assert (loads["bob"]["status"], loads["bob"]["active_conversations"]) == ("online", 1)


def test_busy_agent_keeps_its_shoppers_and_gets_no_new_ones(desk):
    desk.load(agents=[agent("alice", "admin"), agent("bob", max_concurrent=1)])
    desk.online("alice")
    desk.write("o-a", "一")
    desk.jobs()
    assert desk.me("alice", status="busy")["status"] == "busy"
    desk.online("bob")
    desk.write("o-b", "二")
    desk.jobs()
    desk.write("o-c", "三")
    desk.jobs()

    assert (desk.conv("o-a")["state"], agent_of(desk.conv("o-a"))) == ("active", "alice")
    assert agent_of(desk.conv("o-b")) == "bob"
    assert desk.conv("o-c")["state"] == "queued"  # alice has 9 free places, but is busy
    assert {name: (a["status"], a["active_conversations"], a["max_concurrent"])
            for name, a in desk.agents().items()} == {"alice": ("busy", 1, 10), "bob": ("online", 1, 1)}

    desk.online("alice")  # back: the queue drains to her

    assert (desk.conv("o-c")["state"], agent_of(desk.conv("o-c"))) == ("active", "alice")
    assert desk.agents()["alice"]["active_conversations"] == 2


# -- 7: transfer ----------------------------------------------------------------------------------

@pytest.fixture
def served(desk) -> int:
    """A shopper served by bob; alice (admin) and carol are online too, with room."""
    desk.load(groups=[{"key": "presales", "name": "售前"}, {"key": "aftersales", "name": "售后"}],
              agents=[agent("alice", "admin"), agent("bob"), agent("carol", groups=["aftersales"]),
                      agent("dave", max_concurrent=1)])
    desk.online("bob")
    desk.write("o-t", "我要退货")
    desk.jobs()
    desk.online("alice", "carol")
    c = desk.conv("o-t")
    assert agent_of(c) == "bob"
    return c["id"]


def test_transfer_to_an_agent_with_room(desk, served):
    moved = desk.post("bob", served, "transfer", agent="carol")
    assert (moved["state"], agent_of(moved)) == ("active", "carol")
    desk.jobs()
    assert desk.told("o-t")[-1] == transferred("Carol")
    loads = desk.agents()
    assert (loads["bob"]["active_conversations"], loads["carol"]["active_conversations"]) == (0, 1)


def test_transfer_to_a_full_or_offline_agent_is_refused(desk, served):
    desk.online("dave")
    desk.write("o-dave", "给dave的")
    desk.jobs()
    dave_full = desk.post("alice", desk.conv("o-dave")["id"], "transfer", agent="dave")
    assert agent_of(dave_full) == "dave"  # dave can take one shopper: now he has no room

    assert "no room" in desk.post("bob", served, "transfer", 409, agent="dave")["error"]["message"]
    desk.me("carol", status="busy")
    desk.me("carol", status="offline")
    assert "offline" in desk.post("bob", served, "transfer", 409, agent="carol")["error"]["message"]
    assert desk.post("bob", served, "transfer", 404, agent="nobody")["error"]["code"] == "not_found"

    c = desk.get(served)
    assert (c["state"], agent_of(c)) == ("active", "bob")


def test_transfer_to_a_group_requeues_for_a_member(desk, served):
    moved = desk.post("bob", served, "transfer", group="aftersales")

    # Back through the queue, and out to the group's only member: not to alice, whom least_load
    # would pick from the whole shop (as idle as carol, and first in the shop).
    assert (moved["state"], agent_of(moved), moved["group"]) == ("active", "carol", "aftersales")
    assert desk.agents()["bob"]["active_conversations"] == 0


def test_only_the_agent_or_an_admin_transfers(desk, served):
    assert desk.post("carol", served, "transfer", 403, agent="carol")["error"]["code"] == "forbidden"
    assert agent_of(desk.get(served)) == "bob"

    moved = desk.post("alice", served, "transfer", agent="carol")  # alice is the admin
    assert agent_of(moved) == "carol"


# -- 8: accept --------------------------------------------------------------------------------------

def test_busy_agent_accepts_from_the_queue_within_capacity(desk):
    desk.load(agents=[agent("alice", "admin"), agent("bob", max_concurrent=1)])
    desk.me("bob", status="busy")
    desk.write("o-pick1", "有人吗")
    desk.write("o-pick2", "有人吗")
    desk.jobs()
    first, second = desk.conv("o-pick1"), desk.conv("o-pick2")
    assert first["state"] == second["state"] == "waiting"  # dispatch gives busy agents nothing

    taken = desk.post("bob", first["id"], "accept")

    assert (taken["state"], agent_of(taken)) == ("active", "bob")
    error = desk.post("bob", second["id"], "accept", 409)["error"]
    assert "capacity" in error["message"]
    assert desk.get(second["id"])["state"] == "waiting"
    assert desk.post("bob", first["id"], "accept", 409)["error"]["code"] == "conflict"  # not queued
    desk.jobs()
    assert desk.told("o-pick1") == [NO_AGENT, welcome("Bob")]


def test_accept_is_refused_when_the_shop_does_not_allow_picking(desk):
    desk.load(settings={"allow_pick": False})
    desk.me("bob", status="busy")
    desk.write("o-nopick", "有人吗")
    desk.jobs()
    cid = desk.conv("o-nopick")["id"]

    assert desk.post("bob", cid, "accept", 409)["error"]["code"] == "conflict"
    assert desk.get(cid)["state"] == "waiting"


# -- 9: end and ratings ------------------------------------------------------------------------------

def test_end_sends_the_rating_card_and_the_reply_is_the_rating(desk):
    desk.load()
    cid = desk.served("alice", "o-rate", "问个问题")

    ended = desk.post("alice", cid, "end")
    assert (ended["state"], ended["end_reason"]) == ("ended", "agent")
    assert ended["ended_at"] is not None
    desk.jobs()
    assert desk.told("o-rate") == [welcome("Alice"), rating_card("Alice")]
    assert desk.agents()["alice"]["active_conversations"] == 0

    resp = desk.write("o-rate", "5 很好")
    assert resp.data == b"success"
    desk.jobs()

    assert [c["id"] for c in desk.conversations("o-rate")] == [cid]  # nothing new opened
    rating = desk.get(cid)["rating"]
    assert (rating["score"], rating["comment"]) == (5, "很好")
    assert desk.told("o-rate")[-1] == thanks("Alice")

    desk.write("o-rate", "还有个问题")
    assert desk.conv("o-rate")["state"] == "queued"  # a new conversation, routed afresh
    desk.jobs()
    later = desk.conversations("o-rate")
    assert len(later) == 2 and later[-1]["id"] != cid
    assert (later[-1]["state"], agent_of(later[-1])) == ("active", "alice")
    assert desk.get(cid)["rating"]["score"] == 5  # the new message is not a second rating


def test_an_order_number_after_the_rating_card_is_not_a_rating(desk):
    desk.load()
    cid = desk.served("alice", "o-order", "问个问题")
    desk.post("alice", cid, "end")

    resp = desk.write("o-order", "2024051200123")

    assert "订单号已收到" in resp.data.decode()  # the shop's order-number rule answers it
    assert desk.get(cid)["rating"] is None
    assert len(desk.conversations("o-order")) == 2


def test_a_pending_rating_card_lapses_once_the_shopper_moves_on(desk):
    desk.load()
    first = desk.served("alice", "o-moveon", "问个问题")
    desk.post("alice", first, "end")  # the rating card goes out
    desk.write("o-moveon", "还有个问题")  # not understood as a rating: one hint, same conversation
    desk.jobs()
    assert desk.conv("o-moveon")["id"] == first
    assert desk.told("o-moveon")[-1] == RATING_HINT
    desk.write("o-moveon", "我想问一下尺码")  # still no rating: the shopper has moved on
    desk.jobs()
    second = desk.conv("o-moveon")["id"]
    assert second != first
    desk.reply("alice", second, "请说")

    desk.write("o-moveon", "3个颜色都要，能便宜点吗")

    assert desk.get(first)["rating"] is None
    assert [m["text"] for m in desk.messages(second) if m["sender"] == "customer"] == [
        "我想问一下尺码", "3个颜色都要，能便宜点吗"]
    assert desk.told("o-moveon").count(RATING_HINT) == 1
    assert desk.get(second)["awaiting_reply_since"] is not None  # alice owes an answer
    desk.jobs()
    assert thanks("Alice") not in desk.told("o-moveon")


def test_rating_invite_mid_conversation(desk):
    desk.load()
    cid = desk.served("alice", "o-mid", "问个问题")

    invited = desk.post("alice", cid, "rating-invite")
    assert invited["state"] == "active"
    desk.write("o-mid", "4")
    desk.jobs()

    c = desk.get(cid)
    assert (c["state"], c["rating"]["score"], c["rating"]["comment"]) == ("active", 4, None)
    assert desk.told("o-mid") == [welcome("Alice"), rating_card("Alice"), thanks("Alice")]
    assert desk.post("alice", cid, "rating-invite", 409)["error"]["code"] == "conflict"  # rated

    desk.post("alice", cid, "end")
    desk.jobs()
    assert desk.told("o-mid")[-1] == thanks("Alice")  # rated already: no card at the end


def test_no_rating_card_when_the_shop_does_not_want_one(desk):
    desk.load(settings={"rating_on_end": False})
    cid = desk.served("alice", "o-norate", "问个问题")

    desk.post("alice", cid, "end")
    desk.jobs()

    assert desk.told("o-norate") == [welcome("Alice")]
    desk.write("o-norate", "5")  # no card pending: a new conversation, not a rating
    assert desk.get(cid)["rating"] is None
    assert len(desk.conversations("o-norate")) == 2


# -- 10: response times -------------------------------------------------------------------------

def test_agent_reply_stops_the_clock(desk):
    desk.load()
    cid = desk.served("alice", "o-clock", "在吗")
    before = desk.get(cid)
    assert before["awaiting_reply_since"] is not None and before["first_response_seconds"] is None
    assert before["metrics"]["answered"] == 0

    desk.reply("alice", cid, "在的")

    after = desk.get(cid)
    assert after["awaiting_reply_since"] is None
    assert after["first_response_seconds"] is not None and after["first_response_seconds"] >= 0
    assert after["metrics"]["answered"] == 1
    assert [m["responded_at"] is not None for m in desk.messages(cid) if m["direction"] == "in"] == [True]


def test_messages_received_in_the_queue_are_timed_from_assignment(desk):
    desk.load()
    desk.write("o-wait", "有人吗")
    desk.write("o-wait", "急")
    desk.jobs()
    cid = desk.conv("o-wait")["id"]
    with db.new_session(desk.app) as session:  # the shopper has waited ten minutes
        session.execute(update(Message).where(Message.conversation_id == cid)
                        .values(created_at=desk.ago(minutes=10)))
        session.commit()
    desk.set(Conversation, cid, queued_at=desk.ago(minutes=10), created_at=desk.ago(minutes=10))

    desk.online("alice")
    desk.reply("alice", cid, "久等了")

    c = desk.get(cid)
    assert c["metrics"] == {"answered": 2, "answered_within_3min": 2, "response_rate_3min": 1.0}
    assert 0 <= c["first_response_seconds"] < 180


def test_slow_answers_lower_the_three_minute_rate(desk):
    desk.load()
    cid = desk.served("alice", "o-slow", "第一句")
    desk.reply("alice", cid, "马上")
    desk.write("o-slow", "第二句")
    with db.new_session(desk.app) as session:  # the second question waited five minutes
        session.execute(update(Message).where(Message.conversation_id == cid, Message.text == "第二句")
                        .values(created_at=desk.ago(minutes=5)))
        session.commit()
    desk.set(Conversation, cid, assigned_at=desk.ago(minutes=6))

    desk.reply("alice", cid, "抱歉久等")

    assert desk.get(cid)["metrics"] == {"answered": 2, "answered_within_3min": 1, "response_rate_3min": 0.5}


# -- 11: timers ------------------------------------------------------------------------------------

def test_idle_shopper_is_ended_by_the_sweep_but_never_while_unanswered(desk):
    desk.load(settings={"customer_idle_minutes": 15})
    desk.online("alice")
    desk.write("o-idle", "好的")
    desk.write("o-owed", "还在吗？")
    desk.jobs()
    idle, owed = desk.conv("o-idle")["id"], desk.conv("o-owed")["id"]
    answer = desk.reply("alice", idle, "有需要再找我")
    for cid in (idle, owed):  # sixteen minutes pass
        desk.set(Conversation, cid, last_customer_message_at=desk.ago(minutes=16))
    desk.set(Message, answer["id"], created_at=desk.ago(minutes=16))

    done = desk.sweep()
    desk.jobs()

    assert done["ended_idle"] == 1
    c = desk.get(idle)
    assert (c["state"], c["end_reason"]) == ("ended", "idle")
    assert desk.told("o-idle")[-1] == rating_card("Alice")
    assert desk.get(owed)["state"] == "active"  # the shopper's question is still unanswered


def test_idle_time_runs_from_the_agents_answer_not_from_the_queue(desk):
    desk.load(settings={"customer_idle_minutes": 15})
    desk.write("o-waited", "有人吗")
    desk.jobs()  # nobody online: the shopper leaves a message, and waits half an hour
    cid = desk.conv("o-waited")["id"]
    desk.set(Conversation, cid, last_customer_message_at=desk.ago(minutes=30), queued_at=desk.ago(minutes=30))
    desk.online("alice")
    answer = desk.reply("alice", cid, "久等了，请问需要什么？")

    assert desk.sweep()["ended_idle"] == 0  # just answered: the shopper has 15 minutes to reply
    assert desk.get(cid)["state"] == "active"

    desk.set(Message, answer["id"], created_at=desk.ago(minutes=16))
    assert desk.sweep()["ended_idle"] == 1
    assert desk.get(cid)["end_reason"] == "idle"


def test_shopper_active_within_the_idle_limit_is_not_ended(desk):
    desk.load(settings={"customer_idle_minutes": 15})
    cid = desk.served("alice", "o-recent", "好的")
    answer = desk.reply("alice", cid, "好")
    desk.set(Conversation, cid, last_customer_message_at=desk.ago(minutes=14))
    desk.set(Message, answer["id"], created_at=desk.ago(minutes=14))

    assert desk.sweep()["ended_idle"] == 0
    assert desk.get(cid)["state"] == "active"


def test_unanswered_shopper_is_reassigned_after_the_reply_timeout(desk):
    desk.load(settings={"agent_reply_timeout_minutes": 5, "customer_idle_minutes": 0})
    cid = desk.served("alice", "o-slowagent", "在吗在吗")
    desk.online("bob")
    desk.set(Conversation, cid, awaiting_reply_since=desk.ago(minutes=6), assigned_at=desk.ago(minutes=6))

    assert desk.sweep()["reassigned"] == 1
    desk.jobs()

    c = desk.get(cid)
    assert (c["state"], agent_of(c)) == ("active", "bob")
    assert desk.told("o-slowagent") == [welcome("Alice"), transferred("Bob")]
    # bob's own time to answer starts now: the next sweep does not hand the shopper back.
    assert desk.sweep()["reassigned"] == 0
    assert agent_of(desk.get(cid)) == "bob"


def test_queue_wait_does_not_count_against_the_reply_timeout(desk):
    desk.load(settings={"agent_reply_timeout_minutes": 5, "customer_idle_minutes": 0})
    cid = desk.served("bob", "o-queued-long", "有人吗")
    desk.set(Conversation, cid, awaiting_reply_since=desk.ago(minutes=30))  # waited long, then assigned now
    desk.online("alice")

    assert desk.sweep()["reassigned"] == 0
    assert agent_of(desk.get(cid)) == "bob"


def test_no_reassignment_without_another_agent_with_room(desk):
    desk.load(settings={"agent_reply_timeout_minutes": 5},
              agents=[agent("alice", "admin"), agent("bob", max_concurrent=1)])
    desk.online("bob")
    desk.write("o-bobs", "bob的")
    desk.jobs()
    cid = desk.served("alice", "o-alices", "alice的")
    assert agent_of(desk.get(cid)) == "alice"
    desk.set(Conversation, cid, awaiting_reply_since=desk.ago(minutes=6), assigned_at=desk.ago(minutes=6))

    assert desk.sweep()["reassigned"] == 0  # bob is full

    assert agent_of(desk.get(cid)) == "alice"


# -- 12: replying after the end -----------------------------------------------------------------

def test_ended_conversation_can_be_answered_within_history_reply_hours(desk):
    desk.load(settings={"history_reply_hours": 24})
    cid = desk.served("bob", "o-hist", "问个问题")
    desk.post("bob", cid, "end")

    assert desk.reply("bob", cid, "补充一下：明天发货")["sender"] == "agent"

    desk.set(Conversation, cid, ended_at=desk.ago(hours=25))
    error = desk.reply("bob", cid, "还能发吗", expect=409)["error"]
    assert error["code"] == "conflict" and "24 hours" in error["message"]
    assert [m["text"] for m in desk.messages(cid, "bob") if m["sender"] == "agent"] == ["补充一下：明天发货"]


# -- 13: retention ---------------------------------------------------------------------------------

@pytest.mark.parametrize("days", [30, None])
def test_retention_purges_old_messages_only_when_set(desk, days):
    desk.load(settings={"retention_days": days} if days else {})
    cid = desk.served("alice", "o-old", "很久以前的话")
    desk.reply("alice", cid, "很久以前的回答")
    with db.new_session(desk.app) as session:
        session.execute(update(Message).where(Message.conversation_id == cid)
                        .values(created_at=desk.ago(days=31)))
        session.execute(update(InboundReceipt).values(created_at=desk.ago(days=31)))
        session.commit()
    desk.write("o-old", "今天的话")

    with db.new_session(desk.app) as session:
        purged = timers.purge_old_messages(session, datetime.now(timezone.utc))

    left = [m["text"] for m in desk.messages(cid)]
    if days:
        assert purged == 3  # the question, the welcome, the answer
        assert left == ["今天的话"]
    else:
        assert purged == 0
        assert left == ["很久以前的话", welcome("Alice"), "很久以前的回答", "今天的话"]
    assert desk.get(cid)["state"] == "active"  # the conversation itself stays


# -- 14: scope -------------------------------------------------------------------------------------

def test_agents_see_their_own_and_the_queue_and_nothing_of_another_shop(desk):
    desk.load(agents=[agent("alice", "admin"), agent("bob", max_concurrent=1), agent("carol")])
    desk.online("alice")
    desk.write("o-alice", "给alice")
    desk.jobs()
    desk.me("alice", status="busy")
    desk.write("o-queued", "排队中")
    desk.jobs()
    mine, queued = desk.conv("o-alice")["id"], desk.conv("o-queued")["id"]

    resp = desk.client.get(f"/api/v1/conversations/{mine}", headers=desk.h("bob"))
    assert resp.status_code == 403
    assert desk.client.get(f"/api/v1/conversations/{mine}/messages", headers=desk.h("bob")).status_code == 403
    assert desk.reply("bob", mine, "插话", expect=403)["error"]["code"] == "forbidden"
    assert desk.post("bob", mine, "end", 403)["error"]["code"] == "forbidden"
    assert desk.post("bob", mine, "rating-invite", 403)["error"]["code"] == "forbidden"
    listed = desk.client.get("/api/v1/conversations", headers=desk.h("bob")).get_json()["items"]
    assert [c["id"] for c in listed] == [queued]
    assert desk.get(queued, "bob")["state"] == "waiting"

    post_oa(desk.client, "other-oa", "othertoken", text_xml("o-other", "别家的顾客"))
    [theirs] = desk.client.get("/api/v1/conversations", headers=login(desk.client, "mallory", shop="other")
                               ).get_json()["items"]
    for action, body in (("accept", {}), ("transfer", {"agent": "bob"}), ("end", {}), ("rating-invite", {})):
        error = desk.post("alice", theirs["id"], action, 404, **body)["error"]
        assert error["code"] == "not_found", action
    mallory = login(desk.client, "mallory", shop="other")
    resp = desk.client.get(f"/api/v1/conversations/{theirs['id']}", headers=mallory)
    assert resp.get_json()["state"] == "queued"


# -- 15: live events ---------------------------------------------------------------------------------

@pytest.fixture
def live_app(database_url, real_redis_url, fake_wechat):
    app = make_app(database_url, real_redis_url, fake_wechat.url)
    yield app
    db.dispose(app)


def test_sse_streams_the_agents_conversation_and_nothing_of_anothers(live_app, fake_wechat):
    desk = Desk(live_app, live_app.test_client(), fake_wechat).load()
    desk.online("bob")
    desk.write("o-bobs", "bob的顾客")
    desk.jobs()
    desk.online("carol")
    desk.write("o-carols", "carol的顾客")
    desk.jobs()
    bobs, carols = desk.conv("o-bobs"), desk.conv("o-carols")
    assert (agent_of(bobs), agent_of(carols)) == ("bob", "carol")

    # The stream stops at the frame this test waits for; max_seconds only bounds a failure.
    resp = desk.client.get("/api/v1/events?max_seconds=20", headers=desk.h("bob"), buffered=False)
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    frames = iter(resp.response)
    assert ": connected" in next(frames).decode()  # its start in the log is set: nothing is missed

    def shoppers_write():
        other = live_app.test_client()
        post_acme(other, text_xml("o-carols", "carol的顾客又说"))
        post_acme(other, text_xml("o-bobs", "bob的顾客又说"))

    writer = threading.Thread(target=shoppers_write)
    writer.start()
    stream = ""
    for chunk in frames:  # carol's shopper writes first: a leak would arrive before bob's frame
        stream += chunk.decode()
        if f'"conversation_id": {bobs["id"]},' in stream:
            break
    writer.join()
    resp.close()

    frames_ = [f.split("\n", 1)[1] if f.startswith("id: ") else f for f in stream.split("\n\n")]
    events = [frame for frame in frames_ if frame.startswith("event: ")]
    created = [f for f in events if f.startswith("event: message.created\n")]
    assert any(f'"conversation_id": {bobs["id"]},' in f for f in created), stream
    assert not any(f'"conversation_id": {carols["id"]},' in f for f in events), stream


# -- 16: the channel's window ---------------------------------------------------------------------

def test_notices_count_against_the_five_messages_a_shopper_message_allows(desk):
    desk.load()
    desk.online("alice")
    desk.write("o-cap", "在吗")
    desk.jobs()  # the welcome: 1 of 5
    cid = desk.conv("o-cap")["id"]
    for n in range(4):  # 2..5 of 5
        desk.reply("alice", cid, f"回复{n}")
    desk.jobs()
    assert len(desk.told("o-cap")) == 5

    desk.post("alice", cid, "end")  # the rating card would be the sixth
    desk.jobs()

    assert len(desk.told("o-cap")) == 5
    card = desk.messages(cid)[-1]
    assert (card["sender"], card["text"]) == ("system", rating_card("Alice"))
    assert card["delivery"]["state"] == "failed"
    assert card["delivery"]["error"]["code"] == "cap_reached"
