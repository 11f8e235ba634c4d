"""The channel contract: everything that crosses between adapters/ and the bridge.

Adapters import this module and nothing else of the bridge: no models, services, jobs or
Flask. Each type is framework-free; each error is named by what the caller does next.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# The bridge's checks of values from outside, for adapters to apply as they parse (bridge/inputs.py).
from bridge.inputs import storable, unstorable_at, whole_number  # noqa: F401

# -- the webhook -------------------------------------------------------------------------------

@dataclass(frozen=True)
class HookRequest:
    """A webhook call as the adapter sees it."""

    method: str
    args: Mapping[str, str]
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    content_type: str = ""


@dataclass(frozen=True)
class HookResponse:
    body: str | bytes
    status: int = 200
    content_type: str = "text/plain; charset=utf-8"


@dataclass(frozen=True)
class ChannelConfig:
    """A snapshot of one channel: its row, its kind's settings, and its shop's config version."""

    id: int
    shop_id: int
    kind: str
    key: str
    settings: Mapping[str, Any] = field(default_factory=dict)  # the kind's declared fields
    config_version: int = 0


# What an inbound message may carry: what the columns that store it hold (bridge/models.py).
MAX_USER_ID = 128  # customers.external_id
MAX_EXTERNAL_ID = 128  # messages.external_id (inbound_receipts' holds more)
MAX_EVENT = 42  # inbound_receipts.kind holds "event:<event>" in 48
MAX_ENTRY = 128  # customers.entry_scene, entry_menu, entry_product and entry_order
MAX_ENTRY_PAGE = 512  # customers.entry_page: a web page's URL


@dataclass(frozen=True)
class InboundMessage:
    """One thing a shopper did, in one shape for every channel. One the bridge could not store
    is refused as it is made (MalformedRequest): each adapter checks its platform's fields as
    it parses them, and this holds for every channel."""

    channel_key: str
    user_id: str  # the shopper's id on the channel (openid, visitor id)
    external_id: str  # the channel's dedupe key (MsgId, or sender + time for events)
    kind: str  # text image voice video shortvideo location link event, or unknown: never dropped
    created_at: int  # unix seconds, as the channel stamped it
    text: str | None = None
    media: Mapping[str, Any] | None = None
    event: str | None = None  # lower-case event name when kind == "event"
    event_key: str | None = None  # the event's own key (QR scene, menu key, URL), as sent
    # What the action means for the bridge, decided by the adapter: the entry context it
    # sets (DESIGN.md, Entry context: "scene", "menu", …) and a follow (True) or unfollow.
    entry: Mapping[str, str] = field(default_factory=dict)
    follows: bool | None = None
    account_id: str | None = None  # the channel's own id (OA: ToUserName, gh_…)
    raw: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, value, most in (("user_id", self.user_id, MAX_USER_ID),
                                  ("external_id", self.external_id, MAX_EXTERNAL_ID),
                                  ("event", self.event or "", MAX_EVENT),
                                  *((f"entry {key}", value, MAX_ENTRY_PAGE if key == "page" else MAX_ENTRY)
                                    for key, value in self.entry.items())):
            if len(value) > most:
                raise MalformedRequest(f"{name} is over {most} characters")
        where = unstorable_at({"user_id": self.user_id, "external_id": self.external_id, "text": self.text,
                               "event_key": self.event_key, "entry": dict(self.entry), "media": dict(self.media or {}),
                               "raw": dict(self.raw)})
        if where is not None:
            raise MalformedRequest(f"{where[2:80]} holds a NUL character or a lone surrogate")


@dataclass(frozen=True)
class Reply:
    """What the bridge answers a shopper with at once (a keyword rule, the robot)."""

    type: str  # text | image | product | coupon | order (a shop card: CARD is its snapshot)
    text: str | None = None
    media_id: str | None = None
    card: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class FetchedMedia:
    """A shopper's file as the channel handed it over; the type is the platform's word for it."""

    content: bytes
    content_type: str


# -- sending -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class OutboundMessage:
    """One message to push to a shopper through a channel's send API."""

    to: str
    # text | image, and the cards of Capabilities.send_types: an agent's link | miniprogrampage;
    # a shop card product | coupon | order
    type: str
    text: str | None = None
    media_id: str | None = None  # an image's; a miniprogrampage card's (or a shop card's) thumbnail
    # A card's fields: link {title, description, url, thumb_url}; miniprogrampage {title, page_path};
    # a shop card's snapshot {kind, form, id, title, description, price, image, url, page_path,
    # text}, its `form` the way this channel shows it (card_form), chosen when it was stored
    card: Mapping[str, Any] | None = None
    # What a channel that draws its own chat (the widget) shows beside the message; WeChat's
    # ignore them. SENDER: agent | bot | system; NOTICE: the shop's notice kind (welcome,
    # queue, rating, thanks, …); CREATED_AT: ISO 8601 UTC.
    message_id: int | None = None
    sender: str = "agent"
    sender_name: str | None = None
    notice: str | None = None
    created_at: str | None = None


@dataclass(frozen=True)
class SendWindow:
    """How many messages a shopper's action lets the bridge push, and for how long."""

    seconds: int
    quota: int
    resets: bool = True  # a shopper message starts it over; a follow or click only opens one


@dataclass(frozen=True)
class SendWindowRule:
    """Which actions open a send window on a channel that limits pushes to one."""

    after_message: SendWindow
    after_events: Mapping[str, SendWindow] = field(default_factory=dict)

    def for_inbound(self, inbound: InboundMessage) -> SendWindow | None:
        if inbound.kind == "event":
            return self.after_events.get(inbound.event or "")
        return self.after_message

    @property
    def most(self) -> int:
        """The largest quota any action grants: a returned slot never raises it past this."""
        return max([self.after_message.quota, *(w.quota for w in self.after_events.values())])


@dataclass(frozen=True)
class Capabilities:
    """What a channel kind can do, as the pipeline and the delivery job need to know it."""

    passive_reply: bool  # can answer inside the webhook's response
    media_upload: bool  # agents' images are uploaded to the channel before they are sent
    send_window: SendWindowRule | None = None  # None: pushes are not limited to a window
    max_body: int = 64 * 1024  # the largest webhook body the platform sends
    media_max_bytes: int = 0  # the largest image the platform takes (with media_upload)
    # A shopper's image, voice or video names a media id the platform keeps for a few days:
    # the bridge fetches it once (adapter.fetch_media, in a job) and keeps the file itself.
    media_fetch: bool = False
    fetch_max_bytes: int = 0  # the largest file fetched; a larger one is refused, nothing kept
    typing: bool = False  # shows the shopper that an agent is typing (adapter.typing)
    send_types: tuple[str, ...] = ("text", "image")  # what an agent may send through it
    # Draws its own chat (the widget): a send carries who said it (OutboundMessage.sender_name);
    # WeChat shows the shop's name only, so delivery looks no agent up for it.
    shows_speaker: bool = False
    # The forms a shop card (product, coupon, order) can take on it, best first (card_form).
    card_forms: tuple[str, ...] = ("text",)


SHOP_CARDS = ("product", "coupon", "order")  # the message types of a shop card; its media is the snapshot

# What a shop card must hold for each form: a news or link card opens its URL, a Mini Program
# page card needs its page and a picture for the thumbnail; the widget's own card and a text
# (its title, description and URL on lines of their own) show whatever there is.
CARD_FORM_NEEDS: Mapping[str, tuple[str, ...]] = {
    "news": ("url",),
    "miniprogrampage": ("page_path", "image"),
    "link": ("url", "image"),
    "card": (),
    "text": (),
}


def card_form(forms: tuple[str, ...], card: Mapping[str, Any]) -> str:
    """The first of a channel's FORMS (Capabilities.card_forms) that CARD has what it needs for;
    text when none has: every channel can send a text, so a card always reaches the shopper."""
    for form in forms:
        needs = CARD_FORM_NEEDS.get(form)
        if needs is not None and all(card.get(name) for name in needs):
            return form
    return "text"


@dataclass(frozen=True)
class ChannelRuntime:
    """What an adapter may use beyond its channel's settings, handed in by the bridge."""

    redis: Any  # a redis.Redis client: tokens and locks shared by every process
    key_prefix: str  # the shop's Redis key prefix; an adapter keeps its keys under it
    http: Any  # a requests.Session of this thread
    settings: Mapping[str, Any]  # the app settings its kind names (e.g. WECHAT_API_BASE), no others
    signature_max_age: int  # seconds a signed webhook timestamp stays acceptable
    clock: Callable[[], float] = time.time


class Adapter(Protocol):
    """verify → parse → respond for the webhook; send (and upload) for delivery."""

    def __init__(self, channel: ChannelConfig, runtime: ChannelRuntime) -> None: ...
    def verify(self, req: HookRequest) -> None: ...
    def echo(self, req: HookRequest) -> HookResponse: ...
    def parse(self, req: HookRequest) -> list[InboundMessage]: ...
    def respond(self, req: HookRequest, inbound: InboundMessage | None, reply: Reply | None) -> HookResponse: ...
    def send(self, out: OutboundMessage) -> None: ...
    def upload_image(self, filename: str, content: bytes, content_type: str) -> str: ...
    # The SendFailed family again: RetryLater (busy, network), any other final (an expired id, too large).
    def fetch_media(self, media_id: str, max_bytes: int) -> FetchedMedia: ...
    # The typing indicator on (or off); raises SendFailed, which the bridge logs and forgets.
    def typing(self, to: str, on: bool) -> None: ...


# -- errors: a refused webhook call ------------------------------------------------------------

class RequestRejected(Exception):
    """Refuse the request with this HTTP status; nothing was done."""

    status = 400

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class InvalidSignature(RequestRejected):
    status = 403


class MalformedRequest(RequestRejected):
    status = 400


class PayloadTooLarge(RequestRejected):
    status = 413


# -- errors: a send the channel did not take, by what the bridge does next -----------------------

class SendFailed(Exception):
    """The channel did not take the message. `code` and `message` are the platform's own."""

    outcome = "final"

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


class RetryLater(SendFailed):
    """Transient (busy, rate-limited, network): try again with backoff."""

    outcome = "retry_later"


class WindowClosed(SendFailed):
    """The shopper's send window has closed: nothing more until they write again."""

    outcome = "window_closed"


class CapReached(SendFailed):
    """The window's message cap is spent."""

    outcome = "cap_reached"


class SendRefused(SendFailed):
    """Final: the channel refused this message, and sending it again would not help."""

    outcome = "final"
