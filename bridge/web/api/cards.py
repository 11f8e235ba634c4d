"""An agent's cards, checked where they come in (the channel's Capabilities.send_types says
which it sends):

- link: JSON {"type": "link", "title", "description", "url", "thumb_url"} — a web page, with
  its picture's URL (a Mini Program sends it as WeChat's link card);
- miniprogrampage: multipart type=miniprogrampage, title, page_path and the thumbnail as the
  file `image` (kept like an agent's image, uploaded by the delivery as the card's
  thumb_media_id) — a page of the shop's own Mini Program.

Stored as the message's type, its title as the text, its fields as the media.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bridge.web.api.errors import invalid

CARDS = ("link", "miniprogrampage")
MAX_TITLE = 64
MAX_DESCRIPTION = 256
MAX_URL = 1024


def card(kind: str, fields: Mapping[str, Any], thumbnail: Callable[[], dict]) -> tuple[str, dict]:
    """(the card's title, its media) from FIELDS (the JSON body, or the multipart form);
    THUMBNAIL keeps the uploaded image. 422 naming the field that is wrong."""
    if kind == "link":
        allowed = {"type", "client_id", "title", "description", "url", "thumb_url"}
        _only(fields, allowed)
        title = _text(fields, "title", MAX_TITLE)
        media = {"title": title, "description": _text(fields, "description", MAX_DESCRIPTION, required=False),
                 "url": _url(fields, "url"), "thumb_url": _url(fields, "thumb_url")}
        return title, media
    _only(fields, {"type", "client_id", "title", "page_path"})
    title = _text(fields, "title", MAX_TITLE)
    page_path = _text(fields, "page_path", MAX_URL)
    if "://" in page_path:
        raise invalid("page_path is a page of the Mini Program (e.g. pages/item/item?id=42), not a URL")
    return title, {**thumbnail(), "title": title, "page_path": page_path}


def _only(fields: Mapping[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise invalid(f"unknown field {unknown[0]!r} for this card")


def _text(fields: Mapping[str, Any], name: str, most: int, required: bool = True) -> str:
    value = fields.get(name, "" if not required else None)
    if not isinstance(value, str) or (required and not value.strip()):
        raise invalid(f"{name} is required: a text of 1 to {most} characters")
    if len(value.strip()) > most:
        raise invalid(f"{name} is {len(value.strip())} characters: at most {most}")
    return value.strip()


def _url(fields: Mapping[str, Any], name: str) -> str:
    value = _text(fields, name, MAX_URL)
    if not value.startswith(("https://", "http://")) or any(ch.isspace() for ch in value):
        raise invalid(f"{name} must be an http:// or https:// URL")
    return value
