"""A message as the shopper's widget shows it: one shape for the history (read from the
database by the widget's face) and for the live feed (built from what delivery sends)."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.widget.identity import media_signature
from bridge.channels.contract import SHOP_CARDS

FROM = {"customer": "me", "agent": "agent", "bot": "bot", "system": "system"}
# A shop card's snapshot as the widget draws it (its fallback text stays out: the widget shows
# the card itself, and the message's text is its title).
SHOP_CARD_FIELDS = ("kind", "form", "id", "title", "description", "price", "image", "url", "page_path")
CARD_FIELDS = {"link": ("title", "description", "url", "thumb_url"),
               "miniprogrampage": ("title", "page_path"),
               **{kind: SHOP_CARD_FIELDS for kind in SHOP_CARDS}}


def message_view(*, channel_key: str, secret: str, id_: int | None, sender: str, type_: str,
                 text: str | None, created_at: str | None, name: str | None = None,
                 client_id: str | None = None, digest: str | None = None,
                 card: Mapping[str, Any] | None = None, notice: str | None = None) -> dict[str, Any]:
    """DIGEST: the stored image's; its URL is relative to the widget's base (the face makes it
    whole). Only what the shopper may read goes in: no delivery errors, no agent usernames."""
    fields = CARD_FIELDS.get(type_)
    return {
        "id": id_,
        "client_id": client_id,
        "from": FROM.get(sender, "system"),
        "name": name if sender in ("agent", "system") else None,
        "type": type_,
        "text": text,
        "image_url": image_path(channel_key, secret, digest) if digest else None,
        "card": {k: card.get(k) for k in fields} if fields and card else None,
        "notice": notice,
        "created_at": created_at,
    }


def image_path(channel_key: str, secret: str, digest: str) -> str:
    return f"media/{digest}?s={media_signature(secret, channel_key, digest)}"
