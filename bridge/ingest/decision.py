"""What a shopper's message asks of the bridge, decided from the message and the shop alone.

Pure: no database, no Flask, no Redis (like bridge/routing.py). The store then applies the
decision to the conversation as it is in the database at that moment.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bridge.autoreply import Matcher, fold
from bridge.channels.contract import InboundMessage, Reply
from bridge.models import WAITING_STATES

HANDOFF = ("人工", "转人工", "人工客服", "找人工", "真人", "human", "agent")
# While a human serves the shopper, keyword rules stay quiet.
BOT_ANSWERS_IN = ("bot", *WAITING_STATES)
# A rating is one digit 1–5 on its own: "5", "5分", "5 很好". A longer number (an order
# number, a phone number, "12件") is a message, not a rating.
RATING = re.compile(r"^\s*([1-5])(?!\d)\s*[分星]?\s*[,，.。:：;；!！\s-]*(.*)$", re.S)
# What shoppers type instead of a digit; a shop adds or overrides words (setting rating_words).
RATING_WORDS = {
    "五星": 5, "五分": 5, "非常满意": 5, "很满意": 5, "超级满意": 5, "好评": 5,
    "四星": 4, "四分": 4, "满意": 4, "比较满意": 4, "还行": 4,
    "三星": 3, "三分": 3, "一般": 3, "还可以": 3,
    "两星": 2, "二星": 2, "两分": 2, "二分": 2, "不满意": 2, "不太满意": 2,
    "一星": 1, "一分": 1, "很不满意": 1, "非常不满意": 1, "很差": 1, "差评": 1,
}
_PAUSE = " \t\n,，.。:：;；!！~～-"


def asks_for_human(text: str | None) -> bool:
    return bool(text) and (fold(text) in HANDOFF or "转人工" in text)


def rating_of(text: str | None, words: Mapping[str, int] | None = None) -> tuple[int, str | None] | None:
    """(score, comment) if TEXT reads as an answer to a rating card: a digit 1–5, or one of
    the rating words ("很满意，谢谢") followed by nothing, or by a comment after a pause."""
    text = (text or "").strip()
    match = RATING.match(text)
    if match is not None:
        return int(match.group(1)), match.group(2).strip()[:500] or None
    vocabulary, order, firsts = _vocabulary(tuple(sorted(words.items())) if words else ())
    folded = text.casefold()
    if folded[:1] not in firsts:  # most messages: no word starts this way
        return None
    for word in order:  # longest first: 很不满意 before 不满意 before 满意
        if folded.startswith(word):
            rest = text[len(word):]
            if rest and rest[0] not in _PAUSE:
                return None  # the word runs on into a sentence ("满意吗", "一般来说…")
            return vocabulary[word], rest.strip(_PAUSE)[:500] or None
    return None


@lru_cache(maxsize=256)
def _vocabulary(shop_words: tuple[tuple[str, int], ...]) -> tuple[dict[str, int], list[str], frozenset[str]]:
    """The words (folded) with their scores, longest first, and their first letters: per shop, once."""
    vocabulary = {word.casefold(): score for word, score in (*RATING_WORDS.items(), *shop_words)}
    return vocabulary, sorted(vocabulary, key=len, reverse=True), frozenset(w[:1] for w in vocabulary)


@dataclass(frozen=True)
class Answer:
    """The bot's answer, and the conversation states in which it gives it."""

    reply: Reply
    source: Mapping[str, Any]  # kept on the bot's message: which rule, or the robot's fallback
    states: tuple[str, ...]


@dataclass(frozen=True)
class Decision:
    leaves_bot: bool  # a conversation with the bot goes to routing
    answer: Answer | None = None
    rating: tuple[int, str | None] | None = None  # if a rating card is pending, this is the answer
    handoff: bool = False  # the shopper asked for a human
    # A plain text that neither rates nor asks for anything the bridge knows: if a rating card
    # is pending, it may be an answer the bridge did not understand (the shopper gets a hint).
    unclear: bool = False
    blocked: bool = False  # the shop blocked the shopper: kept, never answered, routed or counted


BLOCKED = Decision(leaves_bot=False, blocked=True)


def decide(inbound: InboundMessage, matcher: Matcher, settings: Mapping[str, Any]) -> Decision:
    """Hand-off, a keyword rule, the robot's fallback (robot-first shops), or routing."""
    is_chat = inbound.kind in ("text", "voice")
    handoff = is_chat and asks_for_human(inbound.text)
    rule = matcher.match(inbound.text) if is_chat and not handoff else None
    robot_first = bool(settings.get("robot_first"))
    fallback = (settings.get("robot_fallback_message") or None) if robot_first else None
    if rule is not None:
        card_of = rule.reply.get("product_id") or rule.reply.get("coupon_id")  # a card rule (shopdata/replies.py)
        reply = Reply(type=rule.reply.get("type", "text"), text=rule.reply.get("text"),
                      media_id=rule.reply.get("media_id"), card={"id": card_of} if card_of else None)
        answer = Answer(reply, {"auto_reply_id": rule.id}, BOT_ANSWERS_IN)
    elif fallback and not handoff:
        answer = Answer(Reply(type="text", text=fallback), {"robot_fallback": True}, ("bot",))
    else:
        answer = None
    rating = rating_of(inbound.text, settings.get("rating_words")) if inbound.kind == "text" else None
    # A hand-off request always goes to routing; otherwise, unless a rule (or a robot-first
    # shop) answers.
    return Decision(leaves_bot=handoff or (rule is None and not robot_first), answer=answer,
                    rating=rating, handoff=handoff,
                    unclear=inbound.kind == "text" and rating is None and rule is None and not handoff)
