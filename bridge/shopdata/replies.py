"""A keyword rule that answers with a product or a coupon card (the shop file's
`{"type": "product", "product_id": …}`, `{"type": "coupon", "coupon_id": …}`): the card is made
from the shop's data as the shopper writes, so it shows today's title and price. A product the
shop deleted or a coupon that expired answers with the rule's `text` if it has one, else the rule
does not answer and the shopper is routed as if no rule had matched."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from bridge.channels.contract import Reply
from bridge.ingest.decision import Decision
from bridge.models import Shop
from bridge.shopdata import cards
from bridge.shopdata.models import Coupon, Product

KINDS = ("product", "coupon")


def resolved(conn: Connection, shop_id: int, forms: tuple[str, ...], decision: Decision,
             settings: dict[str, Any], now: datetime) -> Decision:
    """DECISION with its card rule's answer made into the card (or its fallback)."""
    reply = decision.answer.reply
    card = _card(Session(bind=conn), shop_id, reply, now)
    if card is not None:
        card = cards.for_channel(card, forms)
        return replace(decision, answer=replace(decision.answer, reply=Reply(type=reply.type, text=card["title"],
                                                                             card=card)))
    if reply.text:
        return replace(decision, answer=replace(decision.answer, reply=Reply(type="text", text=reply.text)))
    return replace(decision, answer=None, leaves_bot=not settings.get("robot_first"))


def _card(session: Session, shop_id: int, reply: Reply, now: datetime) -> dict[str, Any] | None:
    wanted = (reply.card or {}).get("id")
    if reply.type == "product":
        product = session.get(Product, (shop_id, wanted))
        return cards.product_card(product) if product is not None else None
    coupon = session.get(Coupon, (shop_id, wanted))
    if coupon is None or coupon.valid_until <= now:
        return None
    return cards.coupon_card(coupon, session.scalar(select(Shop.timezone).where(Shop.id == shop_id)))
