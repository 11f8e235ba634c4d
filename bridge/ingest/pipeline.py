"""The inbound pipeline: store → auto-reply → dedupe, in one transaction per push.

Every push comes through here, so it is a few plain SQL statements (statements.py) on the
DB-API connection of the push's transaction, not ORM units of work (bench/README.md has the
figures before and after):

1. the shopper: one upsert, which also records the send window and `last_inbound_at`;
2. the shopper's open conversation: one upsert on the one-open-conversation-per-shopper
   index. It opens a conversation or advances the open one *as it is in the database at that
   moment* (with the bot → queued for routing, unless a rule answers), so no agent or timer
   can slip in between a read and a write. An answer to a pending rating card ("5 很好")
   rates that conversation instead, and the shop's thanks follows it as an outbox row;
3. the shopper's message and the bot's answer — the passive reply on a channel that has one,
   else an outbox row delivered by a job like an agent's reply;
4. the receipt, a plain INSERT on the unique (channel, external id): **the dedupe point**.
   A conflict means a copy of this push is already stored: everything is rolled back and
   the copy gets the first one's answer. A retry that arrives while the first copy is in
   flight waits on the shopper's row (PostgreSQL) or on the write lock (SQLite) first.

On PostgreSQL an ordinary message is all of this as one statement (data-modifying CTEs) in
a transaction of its own: one round trip. A text that may answer a rating card ("5",
"3个都要") runs the steps one by one in a transaction, as on SQLite, because the shopper's
row decides what it is (there, 3–4 go out together with the COMMIT, in psycopg's pipeline
mode). Events only touch the shopper and the receipt.

What the push's live events carry (the conversation, each message stored) is built from what
these statements returned and the rows written: no query of its own.

The connection comes from the webhooks' own pool, which does not ping before a checkout; a
push that meets a dead connection is taken again on a new one (see `ingest`).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from bridge import logs
from bridge.autoreply import Matcher
from bridge.channels.contract import (
    Capabilities,
    ChannelConfig,
    InboundMessage,
    Reply,
    SendWindow,
)
from bridge.conversations.notices import notice_text
from bridge.effects import Effects
from bridge.events import names
from bridge.ingest.decision import BLOCKED, Answer, Decision, decide
from bridge.ingest.rows import Opened, bot_row, inbound_row, message_view, notice_row
from bridge.ingest.store import Duplicate, Store
from bridge.media import fetch as media_fetch
from bridge.shopdata import replies as shop_replies
from bridge.visibility import audience

log = logging.getLogger(__name__)


@dataclass
class Pushed:
    customer_id: int
    conversation: Opened
    message_id: int
    bot_id: int | None  # the bot's answer, if it was given
    nickname: str | None = None
    score: int | None = None  # the message rated the conversation
    notice_id: int | None = None  # what the shop says to that: the thanks, or how to rate
    notice: tuple[str, str] | None = None  # that notice: (kind, text)


def ingest(engine: Engine, channel: ChannelConfig, capabilities: Capabilities,
           inbound: InboundMessage, matcher: Matcher, settings: dict, now: datetime,
           blocked: bool = False) -> Reply | None:
    """Store one push exactly once; return the passive reply, if the channel has one. Commits.

    A connection that turns out to be dead (the database restarted since it was pooled) is
    dropped and the push is taken once more on a new one. That is safe whatever the dead
    connection managed to do: if it committed, the receipt answers the second attempt.
    """
    window = capabilities.send_window.for_inbound(inbound) if capabilities.send_window else None
    inbound = media_fetch.marked(inbound, capabilities)  # stored `fetching`; a job fetches the file
    decision = (BLOCKED if blocked else decide(inbound, matcher, settings)) if inbound.kind != "event" else None
    if decision is not None and decision.answer is not None and decision.answer.reply.type in shop_replies.KINDS:
        with engine.connect() as conn:  # a card rule: the card is made of the shop's data as it is now
            decision = shop_replies.resolved(conn, channel.shop_id, capabilities.card_forms, decision, settings, now)
    for attempt in (1, 2):
        with engine.connect() as conn:
            store = Store(conn)
            try:
                if inbound.kind == "event":
                    return _event(store, channel, inbound, window, now)
                return _message(store, channel, capabilities, inbound, decision, settings, window, now)
            except Duplicate:
                return _replay(store, channel, capabilities, inbound)
            except Exception as exc:
                if attempt == 2 or not store.lost(exc):
                    raise
                conn.invalidate()
        log.warning("channel %s: database connection lost; taking push %s again on a new one",
                    channel.key, logs.digest(inbound.external_id))
        engine.dispose()  # the pool's other connections are as dead as this one
    raise AssertionError("unreachable")


def _message(store: Store, channel: ChannelConfig, capabilities: Capabilities, inbound: InboundMessage,
             decision: Decision, settings: dict, window: SendWindow | None, now: datetime) -> Reply | None:
    # Without a passive reply, the bot's answer is an outbox row, delivered like an agent's.
    answer_delivery = None if capabilities.passive_reply else "pending"
    pushed = None
    if store.pg and decision.rating is None and not decision.blocked:
        pushed = _as_one_statement(store, channel, inbound, decision, answer_delivery, window, now)
        if pushed is None:  # a rating card of an ended conversation is pending: the steps decide
            store.transactional()
    if pushed is None:
        pushed = _step_by_step(store, channel, inbound, decision, answer_delivery, settings, window, now)
    _after_commit(channel, inbound, pushed, decision.answer, answer_delivery, now)
    if pushed.bot_id is None or answer_delivery is not None:
        return None
    return decision.answer.reply


def _as_one_statement(store: Store, channel: ChannelConfig, inbound: InboundMessage, decision: Decision,
                      answer_delivery: str | None, window: SendWindow | None, now: datetime) -> Pushed | None:
    """PostgreSQL, an ordinary message: one statement in a transaction of its own."""
    row = store.push_message(channel, inbound, window, decision.leaves_bot, decision.answer,
                             answer_delivery, now)
    if row is None:
        return None
    customer_id, conversation, message_id, bot_id, nickname = row
    return Pushed(customer_id, conversation, message_id, bot_id, nickname)


def _step_by_step(store: Store, channel: ChannelConfig, inbound: InboundMessage, decision: Decision,
                  answer_delivery: str | None, settings: dict, window: SendWindow | None,
                  now: datetime) -> Pushed:
    """The push statement by statement, in one transaction: SQLite; and on PostgreSQL a text
    that may answer a rating card, or any message while the card of an ended conversation
    is pending, which the shopper's row decides. On PostgreSQL the writes after the decision
    go out together, with the COMMIT."""
    stamp = store.stamp(now)
    store.begin()
    customer_id, card, nickname = store.upsert_shopper(channel, inbound.user_id, window, now)
    joined = notice = score = None  # the card's conversation, if the message stays there; what the shop says
    if card is not None:
        card_since = store.stamp(now - timedelta(hours=settings.get("rating_card_hours", 24)))
        if decision.rating is not None:
            rated = store.rate(customer_id, card, *decision.rating, stamp, card_since)
            if rated is not None:  # the message joins the rated conversation; the shop thanks
                (joined, agent_name), score = rated, decision.rating[0]
                notice = ("thanks", notice_text(settings, "thanks", agent=agent_name or ""))
        elif decision.unclear and (hint := notice_text(settings, "rating_hint")) is not None:
            joined = store.hint(card, stamp, card_since)  # not understood: told how, once
            notice = ("rating_hint", hint) if joined is not None else None
    conversation = joined or store.upsert_conversation(channel, inbound.user_id, decision.leaves_bot, stamp)
    answer = decision.answer if joined is None and decision.answer is not None \
        and conversation.state in decision.answer.states else None
    if notice is not None and notice[1] is None:  # the merchant blanked it
        notice = None
    ids = iter(store.reserve_message_ids(1 + (answer is not None) + (notice is not None)))

    with store.round_trip():
        if conversation.is_new and card is not None:
            # The shopper moved on: the old card lapses, or "3个都要" would be taken as a rating.
            store.lapse_rating(customer_id, card)
        message = store.add_message(next(ids), channel, conversation.id,
                                    inbound_row(inbound, stamp, expects_reply=answer is None and joined is None
                                                and not decision.blocked))
        bot = notice_id = None
        if answer is not None:
            bot = store.add_message(next(ids), channel, conversation.id,
                                    bot_row(answer.reply, answer.source, answer_delivery, stamp))
        if notice is not None:
            notice_id = store.add_message(next(ids), channel, conversation.id, notice_row(*notice, stamp))
        store.take_receipt(channel, inbound, customer_id, message, bot, stamp)
        store.commit()
    return Pushed(customer_id, conversation, message, bot, nickname, score=score, notice_id=notice_id,
                  notice=notice if notice_id is not None else None)


def _after_commit(channel: ChannelConfig, inbound: InboundMessage, pushed: Pushed, answer: Answer | None,
                  answer_delivery: str | None, now: datetime) -> None:
    """Route a shopper who now waits, deliver what is in the outbox, fetch the shopper's media,
    tell the agents: the conversation when it is new (opened, or queued), rated or queued, and
    every message stored — the shopper's, the robot's answer, the shop's notice."""
    effects = Effects(channel.shop_id)
    conversation = pushed.conversation
    whom = audience(conversation.agent_id, conversation.state, pushed.customer_id)
    shown = None  # the conversation, if an event carries it (most pushes only add a message)
    if conversation.queued_now or conversation.is_new or pushed.score is not None:
        shown = conversation.shape(channel, {"id": pushed.customer_id, "external_id": inbound.user_id,
                                             "nickname": pushed.nickname})
    if conversation.queued_now:
        effects.dispatch = True
        effects.publish(names.CONVERSATION_QUEUED, conversation.id, whom, conversation=shown)
    elif conversation.is_new:
        effects.publish(names.CONVERSATION_OPENED, conversation.id, whom, conversation=shown)
    said = [(pushed.message_id, inbound_row(inbound, now))]
    if (inbound.media or {}).get("state") == media_fetch.FETCHING:
        effects.fetch_media(pushed.message_id)
    if pushed.bot_id is not None:
        said.append((pushed.bot_id, bot_row(answer.reply, answer.source, answer_delivery, now)))
        if answer_delivery is not None:
            effects.deliver(pushed.bot_id, "bot")
    if pushed.notice_id is not None:
        said.append((pushed.notice_id, notice_row(*pushed.notice, now)))
        effects.deliver(pushed.notice_id, "system")
    for message_id, row in said:
        effects.publish(names.MESSAGE_CREATED, conversation.id, whom,
                        message=message_view(message_id, conversation.id, row, now))
    if pushed.score is not None:
        effects.publish(names.CONVERSATION_RATED, conversation.id, whom, conversation=shown, score=pushed.score)
    effects.after_commit()


def _event(store: Store, channel: ChannelConfig, inbound: InboundMessage,
           window: SendWindow | None, now: datetime) -> None:
    stamp = store.stamp(now)
    store.begin()
    customer_id = store.upsert_event_shopper(channel, inbound, window, now)
    payload = {"event": inbound.event, "key": inbound.event_key,
               "media": dict(inbound.media) if inbound.media else None}
    with store.round_trip():
        store.take_receipt(channel, inbound, customer_id, None, None, stamp, payload)
        store.commit()


def _replay(store: Store, channel: ChannelConfig, capabilities: Capabilities,
            inbound: InboundMessage) -> Reply | None:
    """A duplicate: this copy's writes are rolled back; answer what the first copy answered."""
    row = store.replay(channel, inbound)
    if row is None:  # the receipt conflicted, so it exists; vanished only if purged meanwhile
        raise RuntimeError(f"push {logs.digest(inbound.external_id)}: receipt conflict but no receipt")
    receipt_id, type_, text, media = row
    log.info("channel %s: duplicate push %s answered from receipt %s",
             channel.key, logs.digest(inbound.external_id), receipt_id)
    if type_ is None or not capabilities.passive_reply:
        return None
    if isinstance(media, str):
        media = json.loads(media)
    card = media if type_ in shop_replies.KINDS else None
    return Reply(type=type_, text=text, media_id=None if card else (media or {}).get("media_id"), card=card)
