"""A shop card's picture as the thumbnail of a Mini Program page card: fetched by the delivery from
the shop's own URL, kept in the media store, uploaded once and its media id reused while valid.

WeChat takes a page card's thumbnail only as an uploaded image (FACTS.md §3), so the bridge must
hold the bytes. A shop sends the same product to many shoppers: the file fetched from a URL is
remembered for a day (the shop may change the picture behind it), and the same bytes, fetched
again, are the same stored file and reuse its upload (media/uploads.py). The fetch is bounded —
MAX_BYTES, TIMEOUT for the whole of it, an image by its first bytes — and anything short of a
picture is ThumbnailUnavailable: the delivery then sends the card in another form, never fails it.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import socket
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import redis
import requests

from bridge import keys
from bridge.channels.contract import SHOP_CARDS, Adapter, Capabilities, RetryLater, SendFailed, card_form
from bridge.media.images import image_type
from bridge.media.store import MediaMissing
from bridge.media.uploads import MediaUploads

log = logging.getLogger(__name__)

MAX_BYTES = 2 * 1024 * 1024  # WeChat's thumbnail is about 520×416: a product photo well under this
TIMEOUT = 10.0  # seconds for the whole fetch, however slowly the shop's server trickles it
URL_KEPT_SECONDS = 24 * 3600


class Channel(Protocol):
    id: int
    shop_id: int


class ThumbnailUnavailable(Exception):
    """The picture could not be had or was not taken: send the card without it."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


@dataclass(frozen=True)
class CardThumbnails:
    uploads: MediaUploads
    http: requests.Session | None = None  # None: a session of its own for each fetch
    private_ok: bool = False  # the picture may come from a private address (config CARD_IMAGES_FROM_PRIVATE_ADDRESSES)

    def media_id(self, adapter: Adapter, channel: Channel, image_url: str) -> tuple[str, str]:
        """(CHANNEL's media id for the picture at IMAGE_URL, the stored file's digest).

        Raises ThumbnailUnavailable, or RetryLater when the channel could not take the upload now.
        """
        url_key = keys.shop_prefix(channel.shop_id) + ":card_image:" + hashlib.sha256(image_url.encode()).hexdigest()
        stored = self._known(url_key) or self._fetch_and_keep(url_key, image_url)
        try:
            return self.uploads.media_id(adapter, channel, stored), stored["sha256"]
        except RetryLater:
            raise
        except (SendFailed, MediaMissing) as exc:  # e.g. WeChat refused the picture's type or size
            raise ThumbnailUnavailable("upload_refused", str(exc)[:200]) from exc

    def _known(self, url_key: str) -> dict[str, Any] | None:
        """The file fetched from the URL within the day, while the store still holds it."""
        try:
            value = self.uploads.redis.get(url_key)
        except redis.RedisError:
            return None
        stored = json.loads(value) if value else None
        return stored if stored and self.uploads.store.exists(stored["sha256"]) else None

    def _fetch_and_keep(self, url_key: str, image_url: str) -> dict[str, Any]:
        if not self.private_ok:
            public_host(image_url)
        if self.http is not None:
            content, content_type = fetch(self.http, image_url)
        else:
            with requests.Session() as http:
                content, content_type = fetch(http, image_url)
        try:
            digest = self.uploads.store.put(content)
        except OSError as exc:
            raise ThumbnailUnavailable("not_kept", f"the media store did not take it ({type(exc).__name__})") from exc
        stored = {"sha256": digest, "content_type": content_type, "size": len(content)}
        try:
            self.uploads.redis.set(url_key, json.dumps(stored), ex=URL_KEPT_SECONDS)
        except redis.RedisError as exc:  # only the reuse is lost: the next send fetches again
            log.warning("card picture %s not remembered (%s)", digest[:12], type(exc).__name__)
        return stored


def fetch(http: requests.Session, url: str, max_bytes: int = MAX_BYTES, timeout: float = TIMEOUT) -> tuple[bytes, str]:
    """(the bytes, their image type) of the picture at URL; ThumbnailUnavailable if it is not one."""
    if not url.startswith(("https://", "http://")):
        raise ThumbnailUnavailable("bad_url", "the card's picture is not an http(s) URL")
    deadline = time.monotonic() + timeout
    chunks, total = [], 0
    try:
        # No redirects: a public URL must not hand the fetch on to another (perhaps private) host.
        with http.get(url, timeout=timeout, stream=True, allow_redirects=False) as resp:
            if resp.status_code != 200:
                raise ThumbnailUnavailable(f"http_{resp.status_code}", "the shop's server did not hand it over")
            declared = resp.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise ThumbnailUnavailable("too_large", f"the picture is {declared} bytes, over {max_bytes}")
            for chunk in resp.iter_content(64 * 1024):
                total += len(chunk)
                if total > max_bytes:
                    raise ThumbnailUnavailable("too_large", f"the picture is over {max_bytes} bytes")
                if time.monotonic() > deadline:
                    raise ThumbnailUnavailable("timeout", f"the picture took over {timeout:g} s")
                chunks.append(chunk)
    except requests.RequestException as exc:
        raise ThumbnailUnavailable("unreachable", type(exc).__name__) from exc
    content = b"".join(chunks)
    content_type = image_type(content)
    if content_type is None:
        raise ThumbnailUnavailable("not_an_image", "the picture's bytes are no JPEG, PNG or GIF")
    return content, content_type


def public_host(url: str) -> None:
    """ThumbnailUnavailable unless every address URL's host resolves to is a public one: a shop's
    data must not make the worker fetch from the bridge's own network (loopback, LAN, link-local,
    a cloud's metadata address)."""
    host = urlsplit(url).hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)}
    except (OSError, UnicodeError):
        raise ThumbnailUnavailable("unreachable", "the picture's host does not resolve") from None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not ip.is_global:
            raise ThumbnailUnavailable("private_address", "the picture's host is not a public address")


def page_card(type_: str, media: dict | None) -> bool:
    """A shop card to be shown as a Mini Program page: its thumbnail is uploaded first."""
    return type_ in SHOP_CARDS and (media or {}).get("form") == "miniprogrampage"


def card_thumbnail(message: Any, adapter: Adapter, channel: Channel, capabilities: Capabilities,
                   thumbnails: CardThumbnails) -> tuple[str | None, str | None]:
    """(the thumbnail's media id, its stored file's digest) for a shop card shown as a Mini
    Program page. Without its picture the card takes the channel's next form (a link, whose
    picture WeChat fetches itself, else its text), written on the message (committed with the
    outcome) so the agent sees what the shopper got; the channel away for the upload is a retry,
    as for an image."""
    try:
        return thumbnails.media_id(adapter, channel, message.media.get("image") or "")
    except ThumbnailUnavailable as exc:
        others = tuple(form for form in capabilities.card_forms if form != "miniprogrampage")
        form = card_form(others, message.media)
        log.info("message %s: card picture unavailable (%s), sent as %s", message.id, exc.code, form)
        message.media = {**message.media, "form": form}
        return None, None
