"""Response figures that mean what they say, and one consistent conversation life.

Only an agent's reply answers a shopper message; the robot's answers, notices and the
shopper's rating never count. First response is per agent, from that agent's assignment,
never negative: a transfer or a reassignment starts the new agent's clock, and the shopper
is told of the new agent once, not welcomed twice. Agents can take a conversation over from
the robot, and a refusal says what state the conversation is in and what would work.
"""
from __future__ import annotations

from sqlalchemy import select

from bridge.infra import db
from bridge.models import Assignment, Conversation, Message
from tests.test_sessions import Desk, agent, agent_of, desk, transferred, welcome  # noqa: F401  (desk: fixture)

TEAM = [agent("alice", "admin"), agent("bob"), agent("carol")]


def stints(desk: Desk, cid: int) -> list[tuple]:
    with db.new_session(desk.app) as s:
        rows = s.scalars(select(Assignment).where(Assignment.conversation_id == cid).order_by(Assignment.seq)).all()
        names = {a.id: name for name, a in desk.shop.agents.items()}
        return [(r.seq, names[r.agent_id], r.how, r.first_response_at is not None, r.release_reason) for r in rows]


def inbound(desk: Desk, cid: int) -> list[tuple]:
    """(text, expects a person's reply, answered by) of the conversation's shopper messages."""
    names = {a.id: name for name, a in desk.shop.agents.items()}
    with db.new_session(desk.app) as s:
        rows = s.scalars(select(Message).where(Message.conversation_id == cid, Message.direction == "in")
                         .order_by(Message.id)).all()
        return [(m.text, m.expects_reply, names.get(m.responded_by)) for m in rows]


def stats(desk: Desk) -> dict[str, dict]:
    resp = desk.client.get("/api/v1/stats", headers=desk.h("alice"))
    return {row["agent"]: row for row in resp.get_json()["items"]}


def test_the_robots_answers_never_count_for_the_agent(desk):
    desk.load(agents=TEAM)
    desk.write("o-robot", "什么时候发货")  # the keyword robot answers: the bot keeps the shopper
    desk.write("o-robot", "转人工")
    desk.online("bob")
    desk.jobs()
    cid = desk.conv("o-robot")["id"]
    desk.reply("bob", cid, "您好，我来帮您")

    assert inbound(desk, cid) == [("什么时候发货", False, None), ("转人工", True, "bob")]
    assert desk.get(cid)["metrics"] == {"answered": 1, "answered_within_3min": 1, "response_rate_3min": 1.0}
    assert stats(desk)["bob"]["messages_answered"] == 1


def test_a_transfer_starts_the_new_agents_clock_and_tells_the_shopper_once(desk):
    desk.load(agents=TEAM)
    cid = desk.served("bob", "o-move", "我要退货")
    desk.reply("bob", cid, "好的")
    desk.write("o-move", "怎么寄回")  # waits across the transfer
    desk.online("carol")
    desk.set(Conversation, cid, assigned_at=desk.ago(minutes=10))  # bob took the shopper long ago

    moved = desk.post("bob", cid, "transfer", agent="carol")
    assert moved["first_response_seconds"] is None  # carol has not answered yet: no figure, not a negative one
    desk.reply("carol", cid, "寄到这个地址")
    desk.jobs()

    c = desk.get(cid)
    assert 0 <= c["first_response_seconds"] < 60
    assert stints(desk, cid) == [(1, "bob", "route", True, "transfer"), (2, "carol", "transfer", True, None)]
    assert inbound(desk, cid) == [("我要退货", True, "bob"), ("怎么寄回", True, "carol")]
    assert desk.told("o-move") == [welcome("Bob"), "好的", transferred("Carol"), "寄到这个地址"]
    figures = stats(desk)
    assert (figures["bob"]["conversations"], figures["carol"]["conversations"]) == (1, 1)
    assert figures["bob"]["avg_first_response_seconds"] >= 0 and figures["carol"]["avg_first_response_seconds"] >= 0
    assert (figures["bob"]["messages_answered"], figures["carol"]["messages_answered"]) == (1, 1)


def test_a_transfer_through_a_group_tells_the_shopper_once_too(desk):
    desk.load(agents=[agent("alice", "admin"), agent("bob"), agent("carol", groups=["presales"])],
              groups=[{"key": "presales", "name": "售前"}])
    cid = desk.served("bob", "o-group", "在吗")
    desk.online("carol")

    desk.post("bob", cid, "transfer", group="presales")
    desk.jobs()

    assert agent_of(desk.get(cid)) == "carol"
    assert desk.told("o-group")[0] == welcome("Bob")
    assert desk.told("o-group")[-1] == transferred("Carol")
    assert welcome("Carol") not in desk.told("o-group")


def test_a_blank_transfer_message_is_silent(desk):
    desk.load(agents=TEAM, settings={"transfer_message": ""})
    cid = desk.served("bob", "o-quiet", "在吗")
    desk.online("carol")
    desk.post("bob", cid, "transfer", agent="carol")
    desk.jobs()
    assert desk.told("o-quiet") == [welcome("Bob")]


def test_a_reassignment_is_the_new_agents_stint(desk):
    desk.load(agents=TEAM, settings={"agent_reply_timeout_minutes": 5, "customer_idle_minutes": 0})
    cid = desk.served("bob", "o-slow", "在吗在吗")
    desk.online("carol")
    desk.set(Conversation, cid, awaiting_reply_since=desk.ago(minutes=6), assigned_at=desk.ago(minutes=6))
    assert desk.sweep()["reassigned"] == 1
    desk.reply("carol", cid, "抱歉久等")

    assert stints(desk, cid) == [(1, "bob", "route", False, "reassign"), (2, "carol", "reassign", True, None)]
    assert inbound(desk, cid) == [("在吗在吗", True, "carol")]
    # Timed from carol's assignment, not from the message six minutes ago.
    assert desk.get(cid)["metrics"]["answered_within_3min"] == 1
    assert 0 <= desk.get(cid)["first_response_seconds"] < 60
    assert stats(desk)["bob"]["avg_first_response_seconds"] is None  # bob never answered


def test_the_rating_and_the_thanks_never_count(desk):
    desk.load(agents=TEAM)
    cid = desk.served("bob", "o-rated", "问个问题")
    desk.reply("bob", cid, "请说")
    desk.post("bob", cid, "end")
    desk.write("o-rated", "5 很好")
    desk.jobs()

    assert inbound(desk, cid) == [("问个问题", True, "bob"), ("5 很好", False, None)]
    assert desk.get(cid)["metrics"]["answered"] == 1
    assert stints(desk, cid) == [(1, "bob", "route", True, "end")]
    assert stats(desk)["bob"]["ratings"] == 1


def test_messages_after_the_end_belong_to_the_next_conversation(desk):
    desk.load(agents=TEAM, settings={"rating_on_end": False})
    first = desk.served("bob", "o-again", "问个问题")
    desk.reply("bob", first, "请说")
    desk.post("bob", first, "end")
    desk.write("o-again", "还有一个问题")
    desk.jobs()
    second = desk.conv("o-again")["id"]
    assert second != first

    desk.reply("bob", first, "补充一句")  # a late word in the ended conversation answers nothing new
    assert inbound(desk, second) == [("还有一个问题", True, None)]
    desk.reply("bob", second, "您说")

    assert inbound(desk, second) == [("还有一个问题", True, "bob")]
    assert desk.told("o-again")[0] == welcome("Bob")
    assert desk.told("o-again").count(welcome("Bob")) == 2  # a new conversation: welcomed again
    assert stats(desk)["bob"]["conversations"] == 2


def test_an_agent_takes_a_conversation_over_from_the_robot(desk):
    desk.load(agents=TEAM, settings={"robot_first": True})
    desk.write("o-bot", "在吗")  # robot-first: the robot's fallback answers
    cid = desk.conv("o-bot")["id"]
    assert desk.get(cid, "bob")["state"] == "bot"  # an agent sees what the robot handles

    assert desk.post("bob", cid, "accept", 409)["error"]["message"].startswith("you are offline")
    desk.online("bob")
    taken = desk.post("bob", cid, "accept")
    desk.jobs()

    assert (taken["state"], agent_of(taken)) == ("active", "bob")
    assert desk.told("o-bot") == [welcome("Bob")]
    assert stints(desk, cid) == [(1, "bob", "pick", False, None)]


def test_refusals_say_the_state_and_what_would_work(desk):
    desk.load(agents=TEAM)
    desk.write("o-why", "在吗")
    desk.jobs()  # nobody online: a leave-message
    cid = desk.conv("o-why")["id"]

    reply = desk.reply("bob", cid, "在的", expect=409)["error"]["message"]
    assert "waiting" in reply and "accept" in reply
    desk.online("bob", "carol")  # bob comes first: the leave-message is his
    assert "active with you" in desk.post("bob", cid, "accept", 409)["error"]["message"]
    assert desk.post("carol", cid, "accept", 403)["error"]["code"] == "forbidden"  # not hers to see
    desk.online("alice")
    taken = desk.post("alice", cid, "accept", 409)["error"]["message"]
    assert "active with Bob" in taken and "transfer" in taken
    desk.post("bob", cid, "end")
    ended = desk.post("bob", cid, "accept", 409)["error"]["message"]
    assert "ended" in ended and "next message" in ended
