"""The outbox: every outbound message is a row first, delivered by a job, ended sent, failed
or unknown.

A delivery claims its row (pending → sending) with a conditional UPDATE, so two jobs for
the same row — a sweeper's re-enqueue racing the original — send it once. Only a pending row
is claimed: a worker killed mid-send leaves its row `sending`, and once the claim has run out
the sweep ends it `unknown` (`interrupted`) — WeChat may or may not have it, and sending it
again could deliver it twice. Nothing retries an unknown row by itself; the agent can
(`retry`). Its window slot stays spent: the attempt may have reached WeChat, which counted it.

What the channel does to a send is an outcome, not an error: a retry is one log line (the
message, the attempt, the reason), a final failure one warning with the platform's code.
An image is uploaded here, in the delivery, so a channel that is away retries the upload as
it retries a send (media/uploads.py); so is a shop card's picture, fetched from the shop for a
Mini Program page card's thumbnail (media/thumbnails.py) — when it cannot be had, the card goes
in the channel's next form and the message records the form the shopper got.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from bridge.channels import registry
from bridge.channels.contract import (
    SHOP_CARDS,
    Adapter,
    CapReached,
    OutboundMessage,
    RetryLater,
    SendFailed,
    SendWindowRule,
    WindowClosed,
)
from bridge.infra.tasks import RETRY_INTERVALS
from bridge.media import thumbnails as thumbnails_for
from bridge.media.store import MediaMissing
from bridge.media.thumbnails import CardThumbnails
from bridge.media.uploads import MediaUploads
from bridge.models import Agent, Channel, Conversation, Customer, Message
from bridge.shapes import iso, utc

log = logging.getLogger(__name__)

MAX_ATTEMPTS = len(RETRY_INTERVALS) + 1  # the first attempt, then RQ's retries
# Of the messages a shopper's action allows, the last ones are kept for the agent's replies:
# the shop's own notices (welcome, queue place, transfer) never spend them. The rating card
# comes as the conversation ends, when the agent has said what it had to: it keeps one.
NOTICE_RESERVE = 2
RESERVE_BY_NOTICE = {"rating": 1}
CLAIM_SECONDS = 90
# Messages whose media holds the card's fields: an agent's (web/api/cards.py), a shop card's snapshot.
CARDS = ("link", "miniprogrampage", *SHOP_CARDS, "template")  # a template: its id, where it opens, its fields


@dataclass(frozen=True)
class Outcome:
    state: str  # sent | failed | retry (the job asks RQ to run it again later) | skipped
    code: str | None = None


def create_outbound(session: Session, conversation: Conversation, sender: str, type_: str,
                    text: str | None, now: datetime, agent_id: int | None = None,
                    media: dict | None = None, raw: dict | None = None, client_id: str | None = None) -> Message:
    """A pending outbox row in the conversation; the caller commits, then enqueues. A CLIENT_ID
    the conversation holds already is an IntegrityError at the flush."""
    message = Message(
        shop_id=conversation.shop_id, conversation_id=conversation.id, direction="out",
        sender=sender, agent_id=agent_id, type=type_, text=text, media=media, raw=raw, client_id=client_id,
        delivery="pending", attempts=0, created_at=now, updated_at=now,
    )
    session.add(message)
    session.flush()
    return message


def deliver(session: Session, message_id: int, adapter_for: Callable[[Channel], Adapter],
            now: datetime, uploads: MediaUploads, thumbnails: CardThumbnails | None = None) -> Outcome:
    """Send one outbox row through its channel's adapter, within the channel's send window;
    a stored image, or a page card's picture, is uploaded first (or its media id reused).

    The adapter answers in the contract's terms (sent, or RetryLater, WindowClosed,
    CapReached, SendRefused): no platform's codes are read here.
    """
    claimed = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.direction == "out", Message.delivery == "pending")
        .values(delivery="sending", claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
                attempts=Message.attempts + 1, updated_at=now)
    ).rowcount
    if not claimed:
        session.rollback()
        return Outcome("skipped")
    message = session.get(Message, message_id)
    conversation = session.get(Conversation, message.conversation_id)
    customer = session.get(Customer, conversation.customer_id)
    try:
        adapter = adapter_for(conversation.channel)
    except LookupError as exc:  # a kind no longer (or not yet) served: nothing would send it
        return _failed(session, message, now, "no_adapter", str(exc))
    stored = (message.media or {}).get("sha256")
    if stored and not uploads.store.exists(stored):
        return _failed(session, message, now, "media_missing", "the image is no longer in the bridge's media store")
    capabilities = registry.get(conversation.channel.kind).capabilities
    # An outreach template notice is sent outside the window, by the template's own rules.
    window = capabilities.send_window if message.type != "template" else None
    keep = (RESERVE_BY_NOTICE.get((message.raw or {}).get("notice"), NOTICE_RESERVE)
            if message.sender == "system" else 0)
    refusal = _take_window_slot(session, customer, now, keep) if window else None
    if refusal:
        return _failed(session, message, now, *refusal)
    # Read now, with the claim: no transaction is open during the send.
    speaker = _speaker(session, message, conversation) if capabilities.shows_speaker else None
    session.commit()  # the claim and the slot are ours before the network call

    uploaded = stored  # the stored file whose media id the send names, if any
    try:
        if thumbnails_for.page_card(message.type, message.media):
            media_id, uploaded = thumbnails_for.card_thumbnail(message, adapter, conversation.channel, capabilities,
                                                               thumbnails or CardThumbnails(uploads))
        else:
            media_id = (uploads.media_id(adapter, conversation.channel, message.media) if stored
                        else (message.media or {}).get("media_id"))
        adapter.send(OutboundMessage(to=customer.external_id, type=message.type, text=message.text,
                                     media_id=media_id, card=message.media if message.type in CARDS else None,
                                     message_id=message.id, sender=message.sender,
                                     sender_name=speaker,
                                     notice=(message.raw or {}).get("notice"), created_at=iso(utc(message.created_at))))
    except (SendFailed, MediaMissing) as exc:
        refused = exc if isinstance(exc, SendFailed) else SendFailed("media_missing", str(exc))
        if window:
            _settle_slot(session, customer.id, refused, window, now)
        if uploaded and refused.outcome == "final":  # e.g. a media id the channel no longer knows
            uploads.forget(conversation.channel, uploaded)
        if isinstance(refused, RetryLater) and message.attempts < MAX_ATTEMPTS:
            _finish(message, "pending", now, refused.code, refused.message)
            session.commit()
            log.info("message %s: attempt %s not sent (%s %s: %s); will retry", message.id,
                     message.attempts, refused.outcome, refused.code, refused.message)
            return Outcome("retry", refused.code)
        return _failed(session, message, now, refused.code, refused.message)
    if stored and (message.media or {}).get("media_id") != media_id:
        message.media = {**message.media, "media_id": media_id}  # what the channel was sent
    _finish(message, "sent", now)
    session.commit()
    log.info("message %s: sent (attempt %s)", message.id, message.attempts)
    return Outcome("sent")


def _speaker(session: Session, message: Message, conversation: Conversation) -> str | None:
    """The name a channel that draws its own chat shows over the message: the agent who wrote
    it, or for the shop's notice the conversation's agent (the welcome's "我是Alice")."""
    agent_id = message.agent_id or (conversation.agent_id if message.sender == "system" else None)
    agent = session.get(Agent, agent_id) if agent_id is not None else None
    return agent.name if agent is not None else None


def earlier_pending(session: Session, message_id: int, limit: int = 20) -> list[int]:
    """The conversation's outbox rows created before this one and still waiting, oldest first.

    Agents' replies have a queue of their own, taken before the notices' (infra/tasks.py); a
    reply's job sends these first, so the shopper still reads a conversation in the order it
    was written ("已为您转接客服Carol" before Carol's first words), and the notices' own jobs
    find them sent."""
    conversation_id = select(Message.conversation_id).where(Message.id == message_id).scalar_subquery()
    return list(session.scalars(
        select(Message.id).where(Message.conversation_id == conversation_id, Message.direction == "out",
                                 Message.delivery == "pending", Message.id < message_id)
        .order_by(Message.id).limit(limit)))


def _failed(session: Session, message: Message, now: datetime, code: str, error: str) -> Outcome:
    """End the row failed, shown to the agent with the reason; one warning says so."""
    _finish(message, "failed", now, code, error)
    session.commit()
    # A notice held back for the agent's replies is the shop's rule working, not a failure.
    report = log.info if code == "kept_for_agent" else log.warning
    report("message %s: failed after attempt %s: %s (%s)", message.id, message.attempts, code, error)
    return Outcome("failed", code)


def _finish(message: Message, state: str, now: datetime, code: str | None = None,
            error: str | None = None) -> None:
    message.delivery, message.error_code, message.error_message = state, code, error
    message.claimed_until, message.updated_at = None, now
    if state == "sent":
        message.sent_at = now
    # Written whole even where the session saw no change: the sweep may have ended the row
    # `unknown` while a slow send ran, and what this worker heard from the channel is the truth.
    for name in ("delivery", "error_code", "error_message", "claimed_until"):
        flag_modified(message, name)


def _take_window_slot(session: Session, customer: Customer, now: datetime, keep: int = 0) -> tuple[str, str] | None:
    """Spend one of the messages the shopper's last action allows, leaving KEEP of them; say
    why not if there is none to spend."""
    taken = session.execute(
        update(Customer)
        .where(Customer.id == customer.id, Customer.window_quota > keep,
               Customer.window_expires_at > now)
        .values(window_quota=Customer.window_quota - 1)
    ).rowcount
    if taken:
        return None
    session.refresh(customer)
    if customer.window_expires_at is None or customer.window_expires_at <= now:
        return ("window_closed", "the shopper's send window has closed: they must write first")
    if customer.window_quota > 0:
        return ("kept_for_agent", f"a notice may not spend the last {keep} messages the shopper's "
                "action allows: they are kept for the agent's replies")
    return ("cap_reached", "no more messages allowed until the shopper writes again")


def _settle_slot(session: Session, customer_id: int, refused: SendFailed, window: SendWindowRule,
                 now: datetime) -> None:
    """A refused send gives its slot back, unless the channel says the window or cap is spent."""
    if isinstance(refused, WindowClosed):  # the channel's window has closed: close ours too
        values = {"window_expires_at": now}
    elif isinstance(refused, CapReached):  # the channel's count for this shopper action is spent
        values = {"window_quota": 0}
    else:
        session.execute(update(Customer)
                        .where(Customer.id == customer_id, Customer.window_quota < window.most)
                        .values(window_quota=Customer.window_quota + 1))
        return
    session.execute(update(Customer).where(Customer.id == customer_id).values(**values))


def _stale(now: datetime, older_than: timedelta):
    return (Message.delivery == "pending") & (Message.updated_at < now - older_than)


def stale_outbox(session: Session, now: datetime, older_than: timedelta, limit: int = 500) -> list[int]:
    """Pending rows a job should have taken by now: lost from Redis, or queued behind a dead worker."""
    return list(session.scalars(
        select(Message.id).where(_stale(now, older_than)).order_by(Message.id).limit(limit)
    ))


def hand_out_stale(session: Session, now: datetime, older_than: timedelta, limit: int = 500) -> list[int]:
    """The stale pending rows, each made fresh again, for the caller to re-enqueue. Commits.

    Fresh, so the next sweeps leave a row alone for `older_than` while its new job waits
    behind a backlog: without it every sweep enqueued another copy of the same job, and
    re-picked the same oldest `limit` rows while lost rows after them waited. A row a dead
    worker left `sending` is not handed out: the sweep ends it `unknown` (`end_interrupted`).
    """
    ids = stale_outbox(session, now, older_than, limit)
    if ids:
        session.execute(update(Message).where(Message.id.in_(ids), _stale(now, older_than))
                        .values(updated_at=now))
        session.commit()
    return ids


INTERRUPTED = ("interrupted", ("the send was cut off before WeChat's answer was recorded: the "
                               "shopper may or may not have it; retry it if a second copy is acceptable"))


def end_interrupted(session: Session, now: datetime, limit: int = 500) -> list[int]:
    """Rows whose worker died holding them (the claim has run out), ended `unknown`. Commits.

    None is sent again by itself: a duplicate reply is worse than a visible "may not have
    arrived". Its window slot stays spent, as WeChat may have counted the message.
    """
    ids = list(session.scalars(
        select(Message.id).where(Message.delivery == "sending", Message.claimed_until < now)
        .order_by(Message.id).limit(limit)))
    if ids:
        session.execute(update(Message)
                        .where(Message.id.in_(ids), Message.delivery == "sending", Message.claimed_until < now)
                        .values(delivery="unknown", error_code=INTERRUPTED[0], error_message=INTERRUPTED[1],
                                claimed_until=None, updated_at=now))
        session.commit()
        for message_id in ids:
            log.warning("message %s: %s: %s", message_id, *INTERRUPTED)
    return ids


RETRYABLE = ("unknown", "failed")


def retry(session: Session, message: Message, now: datetime) -> bool:
    """An agent's explicit retry of an unknown or failed row: pending again, with a fresh round
    of attempts, for the caller to commit and enqueue. False if the row is in another state."""
    again = session.execute(
        update(Message).where(Message.id == message.id, Message.delivery.in_(RETRYABLE))
        .values(delivery="pending", error_code=None, error_message=None, attempts=0,
                claimed_until=None, updated_at=now)
    ).rowcount
    session.refresh(message)
    return bool(again)
