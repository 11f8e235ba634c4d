"""Ratings as shoppers type them: digits, stars and words (per-shop overrides); one hint for
an answer the bridge does not understand, in the rated conversation; the card's lifetime;
and the thanks stored after the rating, so the conversation reads in the order it happened."""
from __future__ import annotations

import pytest

from bridge.ingest.decision import RATING_WORDS, rating_of
from bridge.models import Conversation
from tests.test_sessions import RATING_HINT, Desk, agent, desk, thanks  # noqa: F401  (desk: fixture)

TEAM = [agent("alice", "admin"), agent("bob")]


@pytest.mark.parametrize("text, rating", [
    ("五星", (5, None)), ("5星", (5, None)), ("很满意", (5, None)), ("非常满意！谢谢", (5, "谢谢")),
    ("满意", (4, None)), ("一般", (3, None)), ("不满意", (2, None)), ("很差，太慢了", (1, "太慢了")),
    ("很不满意", (1, None)), ("差评 发货慢", (1, "发货慢")),
    ("满意吗", None), ("一般来说要几天", None), ("很满意服务", None), ("好的", None),
])
def test_rating_words(text, rating):
    assert rating_of(text) == rating


def test_a_shop_adds_and_overrides_words():
    assert rating_of("棒", {"棒": 5}) == (5, None)
    assert rating_of("一般", {"一般": 2}) == (2, None)
    assert RATING_WORDS["一般"] == 3  # the defaults are not changed by a shop's words


def ended_with_card(desk: Desk, openid: str, **settings) -> int:
    desk.load(agents=TEAM, settings=settings)
    cid = desk.served("bob", openid, "问个问题")
    desk.reply("bob", cid, "请说")
    desk.post("bob", cid, "end")
    desk.jobs()
    return cid


def test_a_word_rates_and_the_thanks_follows_it(desk):
    cid = ended_with_card(desk, "o-word")
    desk.write("o-word", "很满意，谢谢")
    desk.jobs()

    rating = desk.get(cid)["rating"]
    assert (rating["score"], rating["comment"]) == (5, "谢谢")
    texts = [(m["sender"], m["text"]) for m in desk.messages(cid)]
    assert texts[-2:] == [("customer", "很满意，谢谢"), ("system", thanks("Bob"))]  # in the order they happened
    assert desk.told("o-word")[-1] == thanks("Bob")


def test_a_shops_own_words(desk):
    cid = ended_with_card(desk, "o-own", rating_words={"棒": 5})
    desk.write("o-own", "棒")
    assert desk.get(cid)["rating"]["score"] == 5


def test_an_answer_not_understood_gets_one_hint_then_the_shopper_moves_on(desk):
    cid = ended_with_card(desk, "o-hint")
    desk.write("o-hint", "不错不错")
    desk.jobs()
    assert desk.conv("o-hint")["id"] == cid  # no new conversation
    assert desk.told("o-hint")[-1] == RATING_HINT
    assert [m["text"] for m in desk.messages(cid)][-2:] == ["不错不错", RATING_HINT]

    desk.write("o-hint", "4")  # the hint worked
    desk.jobs()
    assert desk.get(cid)["rating"]["score"] == 4
    assert desk.told("o-hint")[-1] == thanks("Bob")


def test_the_hint_is_given_once(desk):
    cid = ended_with_card(desk, "o-once")
    desk.write("o-once", "嗯")
    desk.write("o-once", "我还有个问题")
    desk.jobs()
    assert desk.conv("o-once")["id"] != cid  # the second unclear text opens a new conversation
    assert desk.told("o-once").count(RATING_HINT) == 1
    desk.write("o-once", "5")  # the card lapsed when the shopper moved on: a message, not a rating
    assert desk.get(cid)["rating"] is None


def test_a_question_the_robot_answers_or_a_hand_off_moves_on_at_once(desk):
    cid = ended_with_card(desk, "o-robot")
    resp = desk.write("o-robot", "什么时候发货")
    assert "48小时内发货" in resp.data.decode()  # answered, not hinted
    assert desk.conv("o-robot")["id"] != cid
    assert RATING_HINT not in desk.told("o-robot")


def test_a_card_past_its_lifetime_takes_no_rating(desk):
    cid = ended_with_card(desk, "o-late", rating_card_hours=1)
    desk.set(Conversation, cid, rating_invited_at=desk.ago(hours=2))
    desk.write("o-late", "5")
    desk.jobs()
    assert desk.get(cid)["rating"] is None
    assert desk.conv("o-late")["id"] != cid
    assert RATING_HINT not in desk.told("o-late")


def test_a_blank_hint_message_opens_a_new_conversation_at_once(desk):
    cid = ended_with_card(desk, "o-nohint", rating_hint_message="")
    desk.write("o-nohint", "嗯")
    assert desk.conv("o-nohint")["id"] != cid
