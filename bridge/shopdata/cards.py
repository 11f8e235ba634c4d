"""A product, coupon or order as a card in the chat: a snapshot of what the shopper is shown,
kept on the message (its media) so the chat shows the card as it was sent, whatever the shop
changes later. Its `form` is how the channel shows it (Capabilities.card_forms, best first,
the first whose needs the card meets); `text` is the fallback a channel without cards gets.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from bridge.channels.contract import card_form
from bridge.shopdata.models import Coupon, Order, Product
from bridge.shopdata.shapes import STATE_WORDS, yuan

KINDS = ("product", "coupon", "order")


def product_card(p: Product) -> dict[str, Any]:
    return _card("product", p.product_id, p.title, f"¥{yuan(p.price_cents)}", image=p.image, url=p.url,
                 page_path=p.page_path, price=yuan(p.price_cents))


def coupon_card(c: Coupon, timezone: str) -> dict[str, Any]:
    until = c.valid_until.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M")
    said = " · ".join(x for x in (c.value, c.condition, f"{until} 前有效") if x)
    return _card("coupon", c.coupon_id, c.title, said, url=c.url, page_path=c.page_path, value=c.value,
                 condition=c.condition)


def order_card(o: Order, products: Mapping[str, Product]) -> dict[str, Any]:
    first = products.get(o.items[0]["product_id"]) if o.items else None
    count = sum(i["quantity"] for i in o.items)
    what = f"{first.title if first else o.items[0]['product_id']}" + (f" 等{count}件" if count > 1 else "")
    logistics = " ".join(x for x in (o.logistics_company, o.tracking_number) if x)
    said = " · ".join(x for x in (STATE_WORDS[o.state], logistics, f"¥{yuan(o.amount_cents)}") if x)
    return _card("order", o.number, f"订单 {o.number}：{what}", said, image=first.image if first else None,
                 url=None, page_path=None, state=o.state)


def _card(kind: str, id_: str, title: str, description: str, image: str | None = None, url: str | None = None,
          page_path: str | None = None, **extra: Any) -> dict[str, Any]:
    text = "\n".join(x for x in (title, description, url) if x)
    return {"kind": kind, "id": id_, "title": title[:64], "description": description[:120], "image": image,
            "url": url, "page_path": page_path, "text": text, **extra}


def for_channel(card: dict[str, Any], forms: tuple[str, ...]) -> dict[str, Any]:
    """CARD with the form its channel shows it in."""
    return {**card, "form": card_form(forms, card)}

