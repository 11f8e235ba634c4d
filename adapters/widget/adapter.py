"""Delivery into the widget: a reply, a notice or a card is "sent" once it is in the shopper's
live feed (feed.py), which every open widget of theirs reads, and a widget opened later reads
from the database. The widget has no webhook: its face (bridge/web/widget) takes the shopper's
messages and hands them to the pipeline itself."""
from __future__ import annotations

import hashlib

from adapters.widget import feed
from adapters.widget.views import message_view
from bridge.channels.contract import (
    Capabilities,
    ChannelConfig,
    ChannelRuntime,
    FetchedMedia,
    HookRequest,
    HookResponse,
    InboundMessage,
    OutboundMessage,
    Reply,
    RetryLater,
    SendRefused,
)

MAX_IMAGE = 10 * 1024 * 1024  # a shopper's or an agent's image
SEND_TYPES = ("text", "image", "link", "miniprogrampage")
CAPABILITIES = Capabilities(passive_reply=False, media_upload=True, media_max_bytes=MAX_IMAGE,
                            typing=True, send_types=SEND_TYPES)


class WidgetAdapter:
    def __init__(self, channel: ChannelConfig, runtime: ChannelRuntime):
        self.channel, self.runtime = channel, runtime
        self.secret = channel.settings["secret"]

    def feed_of(self, shopper_id: str) -> str:
        return feed.key(self.runtime.key_prefix, self.channel.id, shopper_id)

    # -- delivery

    def send(self, out: OutboundMessage) -> None:
        if out.type not in SEND_TYPES:
            raise SendRefused("unsupported_type", f"the widget shows no {out.type!r} messages")
        view = message_view(channel_key=self.channel.key, secret=self.secret, id_=out.message_id,
                            sender=out.sender, type_=out.type, text=out.text, created_at=out.created_at,
                            name=out.sender_name, digest=out.media_id if out.type == "image" else None,
                            card=out.card, notice=out.notice)
        self._append(out.to, "message", view)

    def upload_image(self, filename: str, content: bytes, content_type: str) -> str:
        """The widget shows the bridge's own copy: its "media id" is the stored file's digest."""
        return hashlib.sha256(content).hexdigest()

    def typing(self, to: str, on: bool) -> None:
        self._append(to, "typing", {"typing": on})

    def _append(self, shopper_id: str, event_type: str, data: dict) -> None:
        try:
            feed.append(self.runtime.redis, self.feed_of(shopper_id), event_type, data)
        except Exception as exc:  # noqa: BLE001 - redis's errors: the store is away, try again
            raise RetryLater("feed_unavailable", f"the shopper's live feed could not be written ({type(exc).__name__})")

    # -- no webhook: the face calls the pipeline itself

    def verify(self, req: HookRequest) -> None:
        raise LookupError("the widget has no webhook")

    def echo(self, req: HookRequest) -> HookResponse:
        raise LookupError("the widget has no webhook")

    def parse(self, req: HookRequest) -> list[InboundMessage]:
        raise LookupError("the widget has no webhook")

    def respond(self, req: HookRequest, inbound: InboundMessage | None, reply: Reply | None) -> HookResponse:
        raise LookupError("the widget has no webhook")

    def fetch_media(self, media_id: str, max_bytes: int) -> FetchedMedia:
        raise SendRefused("no_media_fetch", "a widget shopper's files are stored as they arrive")
