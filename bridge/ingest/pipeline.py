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

The connection comes from the webhooks' own pool, which does not ping before a checkout; a
push that meets a dead connection is taken again on a new one (see `ingest`).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.engine import Engine

from bridge.autoreply import Matcher
from bridge.channels.contract import Capabilities, ChannelConfig, InboundMessage, Reply, SendWindow
from bridge.conversations.notices import notice_text
from bridge.effects import Effects
from bridge.events import names
from bridge.ingest.decision import Decision, decide
from bridge.ingest.store import Duplicate, Opened, Store, bot_row, inbound_row, notice_row

log = logging.getLogger(__name__)


@dataclass
class Pushed:
    customer_id: int
    conversation: Opened
    message_id: int
    bot_id: int | None  # the bot's answer, if it was given
    lapse_rating: int | None = None  # a rating card the shopper left by opening a new conversation
    score: int | None = None  # the message rated the conversation
    thanks_id: int | None = None  # the shop's thanks for the rating, an outbox row


def ingest(engine: Engine, channel: ChannelConfig, capabilities: Capabilities,
           inbound: InboundMessage, matcher: Matcher, settings: dict, now: datetime) -> Reply | None:
    """Store one push exactly once; return the passive reply, if the channel has one. Commits.

    A connection that turns out to be dead (the database restarted since it was pooled) is
    dropped and the push is taken once more on a new one. That is safe whatever the dead
    connection managed to do: if it committed, the receipt answers the second attempt.
    """
    window = capabilities.send_window.for_inbound(inbound) if capabilities.send_window else None
    for attempt in (1, 2):
        with engine.connect() as conn:
            store = Store(conn)
            try:
                if inbound.kind == "event":
                    return _event(store, channel, inbound, window, now)
                return _message(store, channel, capabilities, inbound, decide(inbound, matcher, settings),
                                settings, window, now)
            except Duplicate:
                return _replay(store, channel, capabilities, inbound)
            except Exception as exc:
                if attempt == 2 or not store.lost(exc):
                    raise
                conn.invalidate()
        log.warning("channel %s: database connection lost; taking push %s again on a new one",
                    channel.key, inbound.external_id)
        engine.dispose()  # the pool's other connections are as dead as this one
    raise AssertionError("unreachable")


def _message(store: Store, channel: ChannelConfig, capabilities: Capabilities, inbound: InboundMessage,
             decision: Decision, settings: dict, window: SendWindow | None, now: datetime) -> Reply | None:
    # Without a passive reply, the bot's answer is an outbox row, delivered like an agent's.
    answer_delivery = None if capabilities.passive_reply else "pending"
    if store.pg and decision.rating is None:
        pushed = _as_one_statement(store, channel, inbound, decision, answer_delivery, window, now)
    else:
        pushed = _step_by_step(store, channel, inbound, decision, answer_delivery, settings, window, now)
    _after_commit(channel, pushed, bot_in_outbox=answer_delivery is not None)
    if pushed.lapse_rating is not None:
        # PostgreSQL's one statement cannot write the shopper's row twice: the old card lapses
        # just after it, and only if it is still the one pending. The push is stored and
        # answered already; if this fails, a "5" may still rate the old conversation.
        try:
            store.lapse_rating(pushed.customer_id, pushed.lapse_rating)
        except Exception:  # noqa: BLE001 — logged; the push itself must still get its answer
            log.exception("customer %s: rating card %s did not lapse", pushed.customer_id,
                          pushed.lapse_rating)
    if pushed.bot_id is None or answer_delivery is not None:
        return None
    return decision.answer.reply


def _as_one_statement(store: Store, channel: ChannelConfig, inbound: InboundMessage, decision: Decision,
                      answer_delivery: str | None, window: SendWindow | None, now: datetime) -> Pushed:
    """PostgreSQL, an ordinary message: one statement in a transaction of its own."""
    customer_id, conversation, message, bot, lapse = store.push_message(
        channel, inbound, window, decision.leaves_bot, decision.answer, answer_delivery, now)
    return Pushed(customer_id, conversation, message, bot, lapse)


def _step_by_step(store: Store, channel: ChannelConfig, inbound: InboundMessage, decision: Decision,
                  answer_delivery: str | None, settings: dict, window: SendWindow | None,
                  now: datetime) -> Pushed:
    """The push statement by statement, in one transaction: SQLite, and on PostgreSQL a text
    that may answer a rating card, which the shopper's row decides. On PostgreSQL the writes
    after the decision go out together, with the COMMIT."""
    stamp = store.stamp(now)
    store.begin()
    customer_id, rating_pending = store.upsert_shopper(channel, inbound.user_id, window, now)
    rated = None
    if decision.rating is not None and rating_pending is not None:
        rated = store.rate(customer_id, rating_pending, *decision.rating, stamp)
    if rated is not None:  # the message joins the rated conversation; the shop thanks the shopper
        conversation, agent_name = rated
        thanks = notice_text(settings, "thanks", agent=agent_name or "")
    else:
        conversation = store.upsert_conversation(channel, inbound.user_id, decision.leaves_bot, stamp)
        thanks = None
    answer = decision.answer if rated is None and decision.answer is not None \
        and conversation.state in decision.answer.states else None
    ids = iter(store.reserve_message_ids(1 + (answer is not None) + (thanks is not None)))

    with store.round_trip():
        if conversation.is_new and rating_pending is not None:
            # The shopper moved on: the old card lapses, or "3个都要" would be taken as a rating.
            store.lapse_rating(customer_id, rating_pending)
        message = store.add_message(next(ids), channel, conversation.id,
                                    inbound_row(inbound, stamp, expects_reply=answer is None and rated is None))
        bot = thanks_id = None
        if answer is not None:
            bot = store.add_message(next(ids), channel, conversation.id,
                                    bot_row(answer.reply, answer.source, answer_delivery, stamp))
        if thanks is not None:
            thanks_id = store.add_message(next(ids), channel, conversation.id,
                                          notice_row("thanks", thanks, stamp))
        store.take_receipt(channel, inbound, customer_id, message, bot, stamp)
        store.commit()
    score = decision.rating[0] if rated is not None else None
    return Pushed(customer_id, conversation, message, bot, score=score, thanks_id=thanks_id)


def _after_commit(channel: ChannelConfig, pushed: Pushed, bot_in_outbox: bool) -> None:
    """Route a shopper who now waits, deliver what is in the outbox, tell the agents."""
    effects = Effects(channel.shop_id)
    conversation = pushed.conversation
    audience = {"agent_id": conversation.agent_id, "queue": conversation.agent_id is None,
                "shopper_id": pushed.customer_id}
    if conversation.queued_now:
        effects.dispatch = True
        effects.publish(names.CONVERSATION_QUEUED, conversation.id, queue=True, state="queued")
    effects.publish(names.MESSAGE_CREATED, conversation.id, message_id=pushed.message_id, **audience)
    if bot_in_outbox and pushed.bot_id is not None:
        effects.deliver(pushed.bot_id)
    if pushed.thanks_id is not None:
        effects.deliver(pushed.thanks_id)
        effects.publish(names.MESSAGE_CREATED, conversation.id, message_id=pushed.thanks_id, **audience)
    if pushed.score is not None:
        effects.publish(names.CONVERSATION_RATED, conversation.id, conversation.agent_id,
                        score=pushed.score)
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
        raise RuntimeError(f"push {inbound.external_id}: receipt conflict but no receipt")
    receipt_id, type_, text, media = row
    log.info("channel %s: duplicate push %s answered from receipt %s",
             channel.key, inbound.external_id, receipt_id)
    if type_ is None or not capabilities.passive_reply:
        return None
    if isinstance(media, str):
        media = json.loads(media)
    return Reply(type=type_, text=text, media_id=(media or {}).get("media_id"))
