"""What a shopper's message asks of the bridge (bridge/ingest/decision.py), table by table:
hand-off, a keyword rule, the robot's fallback, routing, and whether it may rate."""
from __future__ import annotations

import pytest

from bridge.autoreply import Matcher, Rule
from bridge.channels.contract import InboundMessage
from bridge.ingest.decision import BOT_ANSWERS_IN, decide, rating_of

RULES = Matcher([
    Rule(id=1, keywords=("发货",), match="contains", priority=10, position=0,
         reply={"type": "text", "text": "48小时内发货"}),
    Rule(id=2, keywords=("^\\d{6,}$",), match="regex", priority=0, position=1,
         reply={"type": "text", "text": "订单号已收到"}),
])
FALLBACK = "没有找到相关答案，回复“人工”为您转接人工客服。"
ROBOT_FIRST = {"robot_first": True, "robot_fallback_message": FALLBACK}


def message(text: str | None, kind: str = "text") -> InboundMessage:
    return InboundMessage(channel_key="k", user_id="o", external_id="1", kind=kind, created_at=0, text=text)


# (text, kind, settings) → (leaves the bot for routing, what answers it, hand-off)
CASES = [
    ("在吗", "text", {}, (True, None, False)),
    ("什么时候发货", "text", {}, (False, {"auto_reply_id": 1}, False)),
    ("2024051200123", "text", {}, (False, {"auto_reply_id": 2}, False)),
    ("人工", "text", {}, (True, None, True)),
    ("转人工客服", "text", {}, (True, None, True)),
    ("HUMAN", "text", {}, (True, None, True)),
    ("发货 转人工", "text", {}, (True, None, True)),  # asking for a human beats the rule
    ("什么时候发货", "voice", {}, (False, {"auto_reply_id": 1}, False)),  # voice with recognition
    (None, "image", {}, (True, None, False)),
    ("发货", "link", {}, (True, None, False)),  # only chat text is matched
    ("在吗", "text", ROBOT_FIRST, (False, {"robot_fallback": True}, False)),
    ("什么时候发货", "text", ROBOT_FIRST, (False, {"auto_reply_id": 1}, False)),
    ("人工", "text", ROBOT_FIRST, (True, None, True)),
    (None, "image", ROBOT_FIRST, (False, {"robot_fallback": True}, False)),
    ("在吗", "text", {"robot_first": True, "robot_fallback_message": ""}, (False, None, False)),
    ("在吗", "text", {"robot_fallback_message": FALLBACK}, (True, None, False)),  # not robot-first
]


@pytest.mark.parametrize("text, kind, settings, expected", CASES)
def test_decision(text, kind, settings, expected):
    decision = decide(message(text, kind), RULES, settings)
    source = dict(decision.answer.source) if decision.answer else None
    assert (decision.leaves_bot, source, decision.handoff) == expected


def test_a_rule_answers_while_the_bot_or_the_queue_has_the_shopper_the_fallback_only_the_bot():
    assert decide(message("发货"), RULES, {}).answer.states == BOT_ANSWERS_IN == ("bot", "queued", "waiting")
    assert decide(message("在吗"), RULES, ROBOT_FIRST).answer.states == ("bot",)


@pytest.mark.parametrize("text, rating", [
    ("5", (5, None)), ("5分", (5, None)), ("5 很好", (5, "很好")), ("4星，还行", (4, "还行")),
    (" 3 ", (3, None)), ("1!", (1, None)),
    ("6", None), ("0", None), ("12件", None), ("2024051200123", None), ("很好", None), ("", None),
])
def test_rating_answers(text, rating):
    assert rating_of(text) == rating
    assert decide(message(text), RULES, {}).rating == rating


def test_only_a_text_may_rate():
    assert decide(message("5", "voice"), RULES, {}).rating is None
