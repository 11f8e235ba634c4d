"""Delivery into the widget: a reply, a notice or a card is "sent" once it is in the shopper's
live feed (feed.py), which every open widget of theirs reads, and a widget opened later reads
from the database. The widget has no webhook: its face (bridge/web/widget) takes the shopper's
messages and hands them to the pipeline itself."""
from __future__ import annotations

import hashlib
import hmac

from adapters.widget import feed, identity
from adapters.widget.identity import Visitor
from adapters.widget.views import message_view
from bridge.channels.contract import (
    SHOP_CARDS,
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
SEND_TYPES = ("text", "image", "link", "miniprogrampage", *SHOP_CARDS)
CAPABILITIES = Capabilities(passive_reply=False, media_upload=True, media_max_bytes=MAX_IMAGE,
                            typing=True, send_types=SEND_TYPES, shows_speaker=True,
                            card_forms=("card",))  # a shop card drawn by the widget itself


class WidgetAdapter:
    """Besides delivery, what the widget's face (bridge/web/widget) asks of the channel: who a
    shopper is (identity.py), the shape the widget reads (views.py), the shopper's feed (feed.py)."""

    def __init__(self, channel: ChannelConfig, runtime: ChannelRuntime):
        self.channel, self.runtime = channel, runtime
        self.secret = channel.settings["secret"]

    # -- who the shopper is; IdentityRefused (a RequestRejected with a code) when not

    def new_visitor(self) -> Visitor:
        return identity.anonymous()

    def identify(self, user: object, given_hash: object, name: object = None) -> Visitor:
        return identity.identified(self.secret, user, given_hash, name)

    def visitor_of(self, token: str | None) -> Visitor:
        return identity.verify(self.secret, self.channel.key, token)

    def token_for(self, visitor: Visitor) -> str:
        return identity.issue(self.secret, self.channel.key, visitor)

    def media_signed(self, digest: str, signature: str) -> bool:
        return hmac.compare_digest(identity.media_signature(self.secret, self.channel.key, digest), signature)

    # -- what the widget shows

    def view(self, **message) -> dict:
        """A message as the widget shows it (views.message_view's keywords, less the channel's)."""
        return message_view(channel_key=self.channel.key, secret=self.secret, **message)

    # -- the shopper's feed; CLIENT: a Redis client whose reads may wait BLOCK_MS

    def feed_of(self, shopper_id: str) -> str:
        return feed.key(self.runtime.key_prefix, self.channel.id, shopper_id)

    def feed_position(self, shopper_id: str) -> str:
        return feed.position(self.runtime.redis, self.feed_of(shopper_id))

    def feed_resume(self, client, shopper_id: str, last_event_id: str | None) -> feed.Resume:
        return feed.resume(client, self.feed_of(shopper_id), last_event_id)

    def feed_read(self, client, shopper_id: str, after: str, block_ms: int) -> list[tuple[str, str, dict]]:
        return feed.read(client, self.feed_of(shopper_id), after, block_ms=block_ms)

    def feed_own(self, shopper_id: str, view: dict) -> None:
        """The shopper's own message, for their other tabs. Raises redis's errors."""
        feed.append(self.runtime.redis, self.feed_of(shopper_id), "message", view)

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
