"""What a widget shopper does, handed to the inbound pipeline like any channel's push: a message
(text, image, an answer to the rating card) or the context of the page they are on.

The shopper's client id is the dedupe key: a send retried after a dropped answer, or made twice
by a double click, is one receipt (inbound_receipts' unique channel + external id), so one
message. Each message the shopper writes is also put in their live feed, so their other tabs
show it (a copy a race put there twice is shown once: the widget keys messages by id).
"""
from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from flask import current_app
from sqlalchemy import or_, select, update

from bridge.channels import registry
from bridge.channels.contract import Adapter, ChannelConfig, InboundMessage
from bridge.infra import db
from bridge.ingest.pipeline import ingest
from bridge.models import Customer, InboundReceipt, Message
from bridge.web.widget.guard import Shopper

log = logging.getLogger(__name__)

CONTEXT_KEYS = ("scene", "product", "order", "page")


def external_id(visitor: Shopper, client_id: str) -> str:
    """The receipt's key of one send: the shopper's and their client id, digested to fit."""
    return "w:" + hashlib.sha256(f"{visitor.shopper_id}\0{client_id}".encode()).hexdigest()[:48]


def stored_message_id(channel: ChannelConfig, receipt_key: str) -> int | None:
    with db.new_session(current_app) as session:
        return session.scalar(select(InboundReceipt.message_id).where(
            InboundReceipt.channel_id == channel.id, InboundReceipt.external_id == receipt_key))


def take_message(channel: ChannelConfig, visitor: Shopper, client_id: str, kind: str,
                 text: str | None = None, media: Mapping[str, Any] | None = None,
                 raw: Mapping[str, Any] | None = None) -> tuple[int, bool]:
    """Store the shopper's message once → (its id, whether this call stored it)."""
    receipt_key = external_id(visitor, client_id)
    known = stored_message_id(channel, receipt_key)
    if known is not None:
        return known, False
    now = datetime.now(timezone.utc)
    _ingest(channel, InboundMessage(channel_key=channel.key, user_id=visitor.shopper_id, external_id=receipt_key,
                                    kind=kind, created_at=int(now.timestamp()), text=text, media=media,
                                    raw={"client_id": client_id, **(raw or {})}), now)
    message_id = stored_message_id(channel, receipt_key)
    if message_id is None:  # the receipt is written in the message's own transaction
        raise RuntimeError(f"widget message {receipt_key} was ingested but has no receipt")
    _name(channel, visitor)
    return message_id, True


def take_context(channel: ChannelConfig, visitor: Shopper, context: Mapping[str, str]) -> None:
    """Where the shopper is (DESIGN.md, Entry context): kept on the shopper, read by routing (scene)
    and shown to the agent. An event to the pipeline, as a Mini Program's 客服 tap is."""
    now = datetime.now(timezone.utc)
    entry = {k: v for k, v in context.items() if k in CONTEXT_KEYS and v}
    _ingest(channel, InboundMessage(channel_key=channel.key, user_id=visitor.shopper_id,
                                    external_id=f"w:ctx:{secrets.token_hex(16)}", kind="event",
                                    created_at=int(now.timestamp()), event="enter",
                                    event_key=entry.get("scene"), entry=entry), now)
    _name(channel, visitor)


def publish_own(channel: ChannelConfig, adapter: Adapter, visitor: Shopper, view: dict[str, Any]) -> None:
    """The shopper's own message into their feed, for their other tabs; a lost one costs nothing
    the next state read does not give back."""
    try:
        adapter.feed_own(visitor.shopper_id, view)
    except Exception as exc:  # noqa: BLE001 - redis's errors
        log.warning("widget %s: a shopper's message not put in their feed (%s)", channel.key, type(exc).__name__)


def _ingest(channel: ChannelConfig, inbound: InboundMessage, now: datetime) -> None:
    cache = current_app.extensions["channel_cache"]
    matcher, settings = cache.shop(db.new_session, channel)
    blocked = (channel.id, inbound.user_id) in cache.blocked(db.new_session, channel.shop_id)
    ingest(db.hook_engine(), channel, registry.get("widget").capabilities, inbound, matcher, settings, now,
           blocked=blocked)


def _name(channel: ChannelConfig, visitor: Shopper) -> None:
    """A logged-in shopper's name, as the shop's page gave it, is their nickname for agents."""
    if not visitor.name:
        return
    with db.new_session(current_app) as session:
        session.execute(update(Customer).where(
            Customer.channel_id == channel.id, Customer.external_id == visitor.shopper_id,
            or_(Customer.nickname.is_(None), Customer.nickname != visitor.name)).values(nickname=visitor.name))
        session.commit()


def message_row(message_id: int) -> Message:
    with db.new_session(current_app) as session:
        message = session.get(Message, message_id)
        session.expunge(message)
        return message


