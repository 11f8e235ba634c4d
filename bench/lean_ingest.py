"""EXPERIMENT, not the shipped path: bridge.ingest.ingest's writes as 6–7 Core statements.

What a leaner ingest could buy, measured, not a replacement: the real pipeline is
bridge/ingest.py. Meant to leave the same rows, dedupe point, answers and effects for ordinary
text/media pushes (as of a5b32f5); events, hand-off requests, pending
rating cards and robot-first shops go to the real ingest. Not reviewed or tested beyond
the benchmark's own row counts: a measurement aid only. Differences worth knowing:
  - get-or-create of the shopper is one upsert (INSERT … ON CONFLICT DO UPDATE … RETURNING),
    the receipt one INSERT … ON CONFLICT DO NOTHING RETURNING (no savepoints, no rollback
    on the happy path), the conversation an INSERT … ON CONFLICT on the partial unique index;
  - no ORM unit of work: nothing is loaded into the Session, no flushes.
Used by `bench/profile_oa.py --lean` and `bench/run_oa.py --lean` (wsgi_lean:app).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bridge import ingest as real
from bridge.autoreply import Matcher
from bridge.effects import Effects
from bridge.messaging import ChannelConfig, InboundMessage, Reply, SendWindow
from bridge.models import OPEN_STATES, Conversation, Customer, InboundReceipt, Message

customers = Customer.__table__
receipts = InboundReceipt.__table__
conversations = Conversation.__table__
messages = Message.__table__


def ingest(session: Session, channel: ChannelConfig, inbound: InboundMessage, matcher: Matcher,
           settings: dict, window: SendWindow | None, now: datetime) -> Reply | None:
    handoff = inbound.kind in ("text", "voice") and real.asks_for_human(inbound.text)
    if (inbound.kind == "event" or handoff or settings.get("robot_first")
            or (window is not None and not window.resets)):
        return real.ingest(session, channel, inbound, matcher, settings, window, now)
    rule = matcher.match(inbound.text) if inbound.kind in ("text", "voice") else None
    effects = Effects(channel.shop_id)
    conn = session.connection()
    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert

    shopper = {"last_inbound_at": now}
    if window is not None:  # a message always resets the window (window.resets)
        shopper.update(window_expires_at=now + timedelta(seconds=window.seconds),
                       window_quota=window.quota)
    stmt = insert(customers).values(shop_id=channel.shop_id, channel_id=channel.id,
                                    external_id=inbound.user_id, created_at=now, **shopper)
    customer_id, rating_pending = conn.execute(
        stmt.on_conflict_do_update(index_elements=[customers.c.channel_id, customers.c.external_id],
                                   set_=shopper)
        .returning(customers.c.id, customers.c.rating_conversation_id)).one()
    if rating_pending is not None:  # a rating answer, or a card to lapse: the real path
        session.rollback()
        return real.ingest(session, channel, inbound, matcher, settings, window, now)

    receipt_id = conn.execute(
        insert(receipts).values(shop_id=channel.shop_id, channel_id=channel.id,
                                external_id=inbound.external_id, kind=inbound.kind,
                                customer_id=customer_id, created_at=now)
        .on_conflict_do_nothing(index_elements=[receipts.c.channel_id, receipts.c.external_id])
        .returning(receipts.c.id)).scalar()
    if receipt_id is None:  # a duplicate: undo the shopper update, answer from the receipt
        session.rollback()
        return real._replay(session, channel, inbound)

    open_query = (select(conversations.c.id, conversations.c.state, conversations.c.agent_id,
                         conversations.c.awaiting_reply_since)
                  .where(conversations.c.customer_id == customer_id,
                         conversations.c.state.in_(OPEN_STATES)))
    conv = conn.execute(open_query).first()
    if conv is None:  # a new conversation: with the bot if a rule answers, else queued
        state = "bot" if rule is not None else "queued"
        conversation_id = conn.execute(
            insert(conversations).values(
                shop_id=channel.shop_id, channel_id=channel.id, customer_id=customer_id,
                state=state, queued_at=None if state == "bot" else now, created_at=now,
                last_customer_message_at=now,
                awaiting_reply_since=None if state == "bot" else now)
            .on_conflict_do_nothing(index_elements=[conversations.c.customer_id],
                                    index_where=text("state != 'ended'"))  # literal: PG must match the partial index
            .returning(conversations.c.id)).scalar()
        agent_id = None
        if conversation_id is None:  # lost the race to a concurrent first message
            conv = conn.execute(open_query).first()
        elif state == "queued":
            effects.dispatch = True
            effects.publish("conversation.queued", conversation_id, queue=True, state="queued")
    if conv is not None:
        conversation_id, state, agent_id = conv.id, conv.state, conv.agent_id
        if state not in real.BOT_ANSWERS_IN:
            rule = None
        changes: dict = {"last_customer_message_at": now}
        if state == "bot" and rule is None:
            state = "queued"
            changes.update(state="queued", queued_at=now, routed_at=None)
            effects.dispatch = True
            effects.publish("conversation.queued", conversation_id, queue=True, state="queued")
        if state != "bot" and conv.awaiting_reply_since is None:
            changes["awaiting_reply_since"] = now
        conn.execute(update(conversations).where(conversations.c.id == conversation_id)
                     .values(**changes))

    message_id = conn.execute(
        messages.insert().values(
            shop_id=channel.shop_id, conversation_id=conversation_id, direction="in",
            sender="customer", type=inbound.kind, text=inbound.text,
            media=dict(inbound.media) if inbound.media else None, raw=dict(inbound.raw),
            external_id=inbound.external_id, created_at=now, updated_at=now)
        .returning(messages.c.id)).scalar_one()
    effects.publish("message.created", conversation_id, agent_id, queue=agent_id is None,
                    message_id=message_id)
    reply, bot_id = None, None
    if rule is not None:
        reply = Reply(type=rule.reply.get("type", "text"), text=rule.reply.get("text"),
                      media_id=rule.reply.get("media_id"))
        bot_id = conn.execute(
            messages.insert().values(
                shop_id=channel.shop_id, conversation_id=conversation_id, direction="out",
                sender="bot", type=reply.type, text=reply.text,
                media={"media_id": reply.media_id} if reply.media_id else None,
                raw={"auto_reply_id": rule.id}, created_at=now, updated_at=now)
            .returning(messages.c.id)).scalar_one()
    conn.execute(update(receipts).where(receipts.c.id == receipt_id)
                 .values(message_id=message_id, reply_message_id=bot_id))
    effects.commit(session)
    return reply
