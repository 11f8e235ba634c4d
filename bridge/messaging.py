"""The framework-free types that cross between adapters/ and bridge/."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# Normalized kinds. Anything a channel sends that we do not know becomes "unknown".
MESSAGE_KINDS = ("text", "image", "voice", "video", "shortvideo", "location", "link", "event", "unknown")


@dataclass(frozen=True)
class HookRequest:
    """A webhook call as the adapter sees it: no Flask inside."""

    method: str
    args: Mapping[str, str]
    body: bytes = b""


@dataclass(frozen=True)
class ChannelConfig:
    """A snapshot of one channel's row and its shop's version, cached per process."""

    id: int
    shop_id: int
    kind: str
    key: str
    app_id: str | None = None
    app_secret: str | None = None
    token: str | None = None
    encoding_aes_key: str | None = None
    data_format: str | None = None
    secret: str | None = None
    config_version: int = 0


@dataclass(frozen=True)
class InboundMessage:
    """One thing a shopper did, in one shape for every channel."""

    channel_key: str
    user_id: str  # the shopper's id on the channel (openid, visitor id)
    external_id: str  # the channel's dedupe key (MsgId, or sender + time for events)
    kind: str
    created_at: int  # unix seconds, as the channel stamped it
    text: str | None = None
    media: Mapping[str, Any] | None = None
    event: str | None = None  # lower-case event name when kind == "event"
    event_key: str | None = None  # QR scene, menu key or URL
    account_id: str | None = None  # the channel's own id (OA: ToUserName, gh_…)
    raw: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reply:
    """What the bridge answers at once (the passive reply), if anything."""

    type: str  # text | image
    text: str | None = None
    media_id: str | None = None


@dataclass(frozen=True)
class HookResponse:
    body: str | bytes
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class OutboundMessage:
    """One message to push to a shopper through a channel's send API."""

    to: str
    type: str  # text | image
    text: str | None = None
    media_id: str | None = None


@dataclass(frozen=True)
class SendWindow:
    """How many messages the channel lets us push, and for how long (FACTS.md §2)."""

    seconds: int
    quota: int
    resets: bool = True  # a shopper message resets the window; a follow or click only opens one
