"""The shopper's WeChat quota is spent carefully: a shopper message allows 5 customer-service
messages, and the shop's notices (welcome, queue place, transfer, rating card) never spend
the last 2 (the rating card, sent as the conversation ends, the last 1), so the agent can
always answer. A queue place is told again only when it has
moved `queue_update_step` places, and never past that budget."""
from __future__ import annotations

import re

from bridge.models import Customer
from tests.test_sessions import Desk, agent, desk, queue_notice, welcome  # noqa: F401  (desk: fixture)


def places(told: list[str]) -> list[int]:
    return [int(m.group(1)) for text in told if (m := re.fullmatch(r"当前排队第(\d+)位，请稍候。", text))]


def test_a_notice_never_spends_the_agents_last_two_messages(desk):
    desk.load(agents=[agent("alice", "admin"), agent("bob"), agent("carol")])
    cid = desk.served("bob", "o-budget", "在吗")
    assert desk.told("o-budget") == [welcome("Bob")]
    desk.set(Customer, desk.customer_id("o-budget"), window_quota=2)

    desk.online("carol")
    desk.post("bob", cid, "transfer", agent="carol")  # the transfer notice, with 2 left: kept
    desk.jobs()
    note = [m for m in desk.messages(cid) if m["sender"] == "system"][-1]
    assert (note["delivery"]["state"], note["delivery"]["error"]["code"]) == ("failed", "kept_for_agent")

    first, second = desk.reply("carol", cid, "在的"), desk.reply("carol", cid, "请问有什么可以帮您")
    desk.jobs()
    assert [desk.delivery_state(cid, m["id"]) for m in (first, second)] == ["sent", "sent"]
    assert desk.told("o-budget") == [welcome("Bob"), "在的", "请问有什么可以帮您"]


def test_the_rating_card_keeps_one_for_a_last_word(desk):
    desk.load(agents=[agent("alice", "admin"), agent("bob")])
    cid = desk.served("bob", "o-card", "在吗")
    desk.set(Customer, desk.customer_id("o-card"), window_quota=2)
    desk.post("bob", cid, "rating-invite")  # 2 left: the card may take one
    desk.jobs()
    last = desk.reply("bob", cid, "感谢光临")
    desk.jobs()
    card = [m for m in desk.messages(cid) if m["sender"] == "system"][-1]
    assert card["delivery"]["state"] == "sent" and desk.delivery_state(cid, last["id"]) == "sent"

    desk.set(Customer, desk.customer_id("o-card"), window_quota=1)
    desk.post("bob", cid, "rating-invite")  # 1 left: the agent's
    desk.jobs()
    card = [m for m in desk.messages(cid) if m["sender"] == "system"][-1]
    assert (card["delivery"]["state"], card["delivery"]["error"]["code"]) == ("failed", "kept_for_agent")


def test_the_budget_holds_in_a_long_queue(desk):
    desk.load(agents=[agent("alice", "admin", max_concurrent=1)],
              settings={"queue_update_step": 2, "rating_on_end": True})
    desk.online("alice")
    shoppers = [f"o-q{n}" for n in range(10)]
    for openid in shoppers:
        desk.write(openid, "在吗")
    desk.jobs()
    assert places(desk.told("o-q9")) == [9]

    for _ in shoppers:  # alice serves them one at a time, ending each without a word
        desk.post("alice", desk.conv_active("alice"), "end")
        desk.jobs()

    for openid in shoppers:
        told = desk.told(openid)
        opening = [t for t in told if "评分" not in t]
        assert len(opening) <= 3, (openid, told)  # welcome and queue places: never the last 2
        assert len(told) <= 4, (openid, told)  # the rating card at the end: never the last 1
        assert welcome("Alice") in told, (openid, told)  # the budget left room for the welcome
        assert places(told) == sorted(places(told), reverse=True)  # a place is told when it moved up
    assert places(desk.told("o-q9")) == [9, 7]  # moved two places: told; then the budget was spent
    assert all(len(places(desk.told(o))) <= 2 for o in shoppers)


def test_no_updates_when_the_step_is_zero(desk):
    desk.load(agents=[agent("alice", "admin", max_concurrent=1)],
              settings={"queue_update_step": 0, "rating_on_end": False})
    desk.online("alice")
    for n in range(5):
        desk.write(f"o-z{n}", "在吗")
    desk.jobs()
    for _ in range(4):
        desk.post("alice", desk.conv_active("alice"), "end")
        desk.jobs()
    assert places(desk.told("o-z4")) == [4]
    assert desk.told("o-z4")[-1] == welcome("Alice")
    assert queue_notice(4) in desk.told("o-z4")
