"""The inbound pipeline: dedupe → store → auto-reply, in one transaction per push.

The receipt's unique (channel, external id) is the dedupe point. A retry that arrives while
the first copy is still in flight blocks on that index (PostgreSQL) or on the write lock
(SQLite) until the first commits, then finds the receipt and answers what the first did.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bridge.autoreply import Matcher, fold
from bridge.effects import Effects
from bridge.lifecycle import take_rating
from bridge.messaging import ChannelConfig, InboundMessage, Reply, SendWindow
from bridge.models import OPEN_STATES, Conversation, Customer, InboundReceipt, Message

log = logging.getLogger(__name__)

HANDOFF = ("人工", "转人工", "人工客服", "找人工", "真人", "human", "agent")
# While a human serves the shopper, keyword rules stay quiet.
BOT_ANSWERS_IN = ("bot", "queued", "waiting")


def asks_for_human(text: str | None) -> bool:
    return bool(text) and (fold(text) in HANDOFF or "转人工" in text)


def ingest(session: Session, channel: ChannelConfig, inbound: InboundMessage, matcher: Matcher,
           settings: dict, window: SendWindow | None, now: datetime) -> Reply | None:
    """Store one push exactly once and return its passive reply, if any. Commits."""
    handoff = inbound.kind in ("text", "voice") and asks_for_human(inbound.text)
    rule = matcher.match(inbound.text) if inbound.kind in ("text", "voice") and not handoff else None
    effects = Effects(channel.shop_id)
    try:
        customer = _customer(session, channel, inbound.user_id)
        receipt = InboundReceipt(
            shop_id=channel.shop_id, channel_id=channel.id, external_id=inbound.external_id,
            kind=inbound.kind if inbound.kind != "event" else f"event:{inbound.event}",
            customer_id=customer.id, created_at=now,
        )
        session.add(receipt)
        session.flush()  # the dedupe point
    except IntegrityError:
        session.rollback()
        return _replay(session, channel, inbound)

    _open_window(customer, window, now)
    if inbound.kind == "event":
        _apply_event(customer, inbound)
        receipt.payload = {"event": inbound.event, "key": inbound.event_key,
                           "media": dict(inbound.media) if inbound.media else None}
        effects.commit(session)
        return None

    customer.last_inbound_at = now
    conversation = take_rating(session, effects, settings, customer, inbound.text, now) \
        if inbound.kind == "text" else None
    reply, source = None, None
    if conversation is None:  # not an answer to the rating card
        conversation = _open_conversation(session, channel, customer, now)
        if conversation.state not in BOT_ANSWERS_IN:
            rule = None
        fallback = _advance(conversation, settings, rule is not None, handoff, now, effects)
        if rule is not None:
            reply = Reply(type=rule.reply.get("type", "text"), text=rule.reply.get("text"),
                          media_id=rule.reply.get("media_id"))
            source = {"auto_reply_id": rule.id}
        elif fallback:
            reply, source = Reply(type="text", text=fallback), {"robot_fallback": True}
        conversation.last_customer_message_at = now
        if conversation.state != "bot" and conversation.awaiting_reply_since is None:
            conversation.awaiting_reply_since = now
    message = Message(
        shop_id=channel.shop_id, conversation_id=conversation.id, direction="in",
        sender="customer", type=inbound.kind, text=inbound.text,
        media=dict(inbound.media) if inbound.media else None, raw=dict(inbound.raw),
        external_id=inbound.external_id, created_at=now, updated_at=now,
    )
    session.add(message)
    bot = None
    if reply is not None:
        bot = Message(
            shop_id=channel.shop_id, conversation_id=conversation.id, direction="out",
            sender="bot", type=reply.type, text=reply.text,
            media={"media_id": reply.media_id} if reply.media_id else None,
            raw=source, created_at=now, updated_at=now,
        )
        session.add(bot)
    session.flush()  # one flush for both messages: the receipt needs their ids
    receipt.message_id, receipt.reply_message_id = message.id, bot.id if bot else None
    effects.publish("message.created", conversation.id, conversation.agent_id,
                    queue=conversation.agent_id is None, message_id=message.id)
    effects.commit(session)
    return reply


def _replay(session: Session, channel: ChannelConfig, inbound: InboundMessage) -> Reply | None:
    receipt = session.scalar(
        select(InboundReceipt).where(InboundReceipt.channel_id == channel.id,
                                     InboundReceipt.external_id == inbound.external_id)
    )
    if receipt is None:  # the integrity error was not the receipt's: let it surface
        raise RuntimeError("integrity error on ingest without a receipt")
    reply = None
    if receipt.reply_message_id is not None:
        bot = session.get(Message, receipt.reply_message_id)
        reply = Reply(type=bot.type, text=bot.text, media_id=(bot.media or {}).get("media_id"))
    session.commit()
    log.info("channel %s: duplicate push %s answered from receipt %s",
             channel.key, inbound.external_id, receipt.id)
    return reply


def _customer(session: Session, channel: ChannelConfig, user_id: str) -> Customer:
    """Get or create the shopper; a concurrent first message loses the insert and re-reads."""
    query = select(Customer).where(Customer.channel_id == channel.id,
                                   Customer.external_id == user_id)
    customer = session.scalar(query)
    if customer is not None:
        return customer
    try:
        with session.begin_nested():
            # Every column set here, so reading one later loads nothing and writes nothing.
            customer = Customer(shop_id=channel.shop_id, channel_id=channel.id, external_id=user_id,
                                window_quota=0, window_expires_at=None, last_inbound_at=None,
                                rating_conversation_id=None, subscribed=None, entry_scene=None,
                                entry_menu=None, exclusive_agent_id=None, nickname=None)
            session.add(customer)
        return customer
    except IntegrityError:
        return session.scalar(query)


def _open_conversation(session: Session, channel: ChannelConfig, customer: Customer,
                       now: datetime) -> Conversation:
    """The shopper's open conversation, or a new one (with the bot until routed).

    A new conversation means the shopper has moved on: a rating card still pending from an
    ended one lapses, or "3个都要" in the new one would be taken as a rating of the old.
    """
    query = select(Conversation).where(Conversation.customer_id == customer.id,
                                       Conversation.state.in_(OPEN_STATES))
    conversation = session.scalar(query)
    if conversation is not None:
        return conversation
    if customer.rating_conversation_id is not None:
        customer.rating_conversation_id = None
    try:
        with session.begin_nested():
            conversation = Conversation(shop_id=channel.shop_id, channel_id=channel.id,
                                        customer_id=customer.id, state="bot", created_at=now)
            session.add(conversation)
        return conversation
    except IntegrityError:
        return session.scalar(query)


def _advance(conversation: Conversation, settings: dict, answered: bool, handoff: bool, now: datetime,
             effects: Effects) -> str | None:
    """A conversation with the bot goes to routing unless a rule (or robot-first) answers it.

    Returns the robot's fallback text when robot-first keeps the shopper with the bot.
    """
    if conversation.state != "bot" or (answered and not handoff):
        return None
    if settings.get("robot_first") and not handoff:
        return settings.get("robot_fallback_message") or None
    conversation.state, conversation.queued_at, conversation.routed_at = "queued", now, None
    effects.dispatch = True
    effects.publish("conversation.queued", conversation.id, queue=True, state="queued")
    return None


def _open_window(customer: Customer, window: SendWindow | None, now: datetime) -> None:
    """A shopper message resets the channel's window; an event only opens a shorter one."""
    if window is None:
        return
    expires = now + timedelta(seconds=window.seconds)
    current_open = (customer.window_expires_at is not None and customer.window_expires_at > now
                    and customer.window_quota > 0)
    if window.resets or not current_open:
        customer.window_expires_at, customer.window_quota = expires, window.quota


def _apply_event(customer: Customer, inbound: InboundMessage) -> None:
    if inbound.event == "subscribe":
        customer.subscribed = True
        if inbound.event_key:
            customer.entry_scene = inbound.event_key
    elif inbound.event == "unsubscribe":
        customer.subscribed = False
    elif inbound.event == "scan" and inbound.event_key:
        customer.entry_scene = inbound.event_key
    elif inbound.event == "click" and inbound.event_key:
        customer.entry_menu = inbound.event_key
