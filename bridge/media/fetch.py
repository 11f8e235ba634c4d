"""A shopper's media, fetched once from the channel by a job and kept in the bridge's media store.

A WeChat push names its image, voice or video by a media id that WeChat keeps for 3 days (its
PicUrl expires too), so the bridge fetches the file itself and agents see it for as long as the
message lives. The message's `media.state` says where that stands, for clients to show without
guessing: `fetching` from the push on, then `stored` (with the file's sha256, content_type and
size) or `unavailable` (with the channel's reason).

Fetched once per message, however often its job runs (a retried push enqueues nothing; a
second worker, the sweep's re-enqueue): the job claims the inbound row (claimed_until, as the
outbox does) with a conditional UPDATE, and only a row still `fetching` is fetched. A channel
away or busy is retried with RQ's backoff; anything else (an expired id, too large, not an
image) is final, and nothing of it is kept.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from bridge.channels import registry
from bridge.channels.contract import Adapter, Capabilities, FetchedMedia, InboundMessage, RetryLater, SendFailed
from bridge.infra.tasks import RETRY_INTERVALS
from bridge.media import images
from bridge.media.store import MediaStore
from bridge.models import Channel, Conversation, Message, Shop

log = logging.getLogger(__name__)

# A shared Mini Program page's thumbnail too (its ThumbMediaId, normalize.py names it media_id).
FETCHED_KINDS = ("image", "voice", "video", "shortvideo", "miniprogrampage")
IMAGE_KINDS = ("image", "miniprogrampage")  # kept only when the bytes are an image
FETCHING, STORED, UNAVAILABLE = "fetching", "stored", "unavailable"
MAX_ATTEMPTS = len(RETRY_INTERVALS) + 1  # the first attempt, then RQ's retries
CLAIM_SECONDS = 90
MEDIA_ID_DAYS = 3  # how long WeChat keeps a shopper's media id
# A voice or video is kept with the type WeChat names when it is a plain audio/ or video/ type;
# the store serves it with that type and nosniff, so anything else is served as a download.
_AV_TYPE = re.compile(r"^(audio|video)/[a-z0-9][a-z0-9.+-]{0,60}$")


@dataclass(frozen=True)
class Outcome:
    state: str  # stored | unavailable | retry (RQ runs the job again later) | skipped
    code: str | None = None


def marked(inbound: InboundMessage, capabilities: Capabilities) -> InboundMessage:
    """INBOUND with `media.state` fetching, when its channel's file is for the bridge to fetch."""
    media = inbound.media or {}
    if capabilities.media_fetch and inbound.kind in FETCHED_KINDS and media.get("media_id"):
        return replace(inbound, media={**media, "state": FETCHING})
    return inbound


def fetch(session: Session, message_id: int, adapter_for: Callable[[Channel], Adapter], store: MediaStore,
          now: datetime) -> Outcome:
    """Fetch the message's file through its channel's adapter and keep it. Commits."""
    claimed = session.execute(
        update(Message)
        .where(Message.id == message_id, Message.direction == "in",
               or_(Message.claimed_until.is_(None), Message.claimed_until < now))
        .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS), attempts=Message.attempts + 1,
                updated_at=now)
    ).rowcount
    if not claimed:  # another worker holds it, or the message is gone
        session.rollback()
        return Outcome("skipped")
    message = session.get(Message, message_id)
    media = dict(message.media or {})
    if media.get("state") != FETCHING:  # stored or given up on already
        message.claimed_until = None
        session.commit()
        return Outcome("skipped")
    channel, kind = session.get(Conversation, message.conversation_id).channel, message.type
    try:
        adapter = adapter_for(channel)
    except LookupError as exc:  # a kind no longer (or not yet) served
        return _finish(session, message, now, {**media, "state": UNAVAILABLE,
                                               "error": {"code": "no_adapter", "message": str(exc)}})
    max_bytes = registry.get(channel.kind).capabilities.fetch_max_bytes
    # The claim is ours before the network call, and no transaction is held during it (on
    # SQLite a transaction holds the one writer lock).
    session.commit()
    try:
        kept = _kept(kind, adapter.fetch_media(str(media["media_id"]), max_bytes), store)
    except SendFailed as exc:
        if isinstance(exc, RetryLater) and message.attempts < MAX_ATTEMPTS:
            message.claimed_until = None
            session.commit()
            log.info("message %s: media fetch attempt %s failed (%s: %s); will retry",
                     message.id, message.attempts, exc.code, exc.message)
            return Outcome("retry", exc.code)
        log.warning("message %s: media unavailable after attempt %s: %s (%s)",
                    message.id, message.attempts, exc.code, exc.message)
        return _finish(session, message, now, {**media, "state": UNAVAILABLE,
                                               "error": {"code": exc.code, "message": exc.message}})
    log.info("message %s: media stored (%s, %s bytes)", message.id, kept["content_type"], kept["size"])
    return _finish(session, message, now, {**media, **kept, "state": STORED})


def _kept(kind: str, fetched: FetchedMedia, store: MediaStore) -> dict[str, Any]:
    """The file in the store, its type judged by its bytes for an image; SendFailed if it is no image."""
    if kind in IMAGE_KINDS:
        content_type = images.image_type(fetched.content)
        if content_type is None:
            raise SendFailed("not_an_image", "the file WeChat gave is not a JPEG, PNG or GIF image")
    else:
        named = fetched.content_type.lower()
        content_type = named if _AV_TYPE.match(named) else "application/octet-stream"
    return {"sha256": store.put(fetched.content), "content_type": content_type, "size": len(fetched.content)}


def _finish(session: Session, message: Message, now: datetime, media: dict[str, Any]) -> Outcome:
    message.media, message.claimed_until, message.updated_at = media, None, now
    flag_modified(message, "media")
    session.commit()
    return Outcome(media["state"], (media.get("error") or {}).get("code"))


def _unfetched(shop_id: int, now: datetime, older_than: timedelta):
    # Within the days WeChat keeps a media id (and a day's margin), shop by shop, so the read
    # rides the (shop_id, created_at) index; an older file can only be unavailable, which the
    # fetch of such a row finds out itself.
    return ((Message.shop_id == shop_id) & (Message.created_at >= now - timedelta(days=MEDIA_ID_DAYS + 1))
            & (Message.direction == "in") & Message.type.in_(FETCHED_KINDS)
            & (Message.media["state"].as_string() == FETCHING) & (Message.updated_at < now - older_than)
            & or_(Message.claimed_until.is_(None), Message.claimed_until < now))


def hand_out_unfetched(session: Session, now: datetime, older_than: timedelta, limit: int = 500) -> list[int]:
    """Messages whose file no job has fetched by now (Redis was away at the commit, a job lost),
    each made fresh again, for the caller to re-enqueue. Commits."""
    ids: list[int] = []
    for shop_id in session.scalars(select(Shop.id).order_by(Shop.id)).all():
        found = list(session.scalars(select(Message.id).where(_unfetched(shop_id, now, older_than))
                                     .order_by(Message.id).limit(limit - len(ids))))
        if found:
            session.execute(update(Message).where(Message.id.in_(found), _unfetched(shop_id, now, older_than))
                            .values(updated_at=now))
            ids += found
        if len(ids) >= limit:
            break
    session.commit()
    return ids
