"""Where waiting shoppers stand: the shop's queue in the order it drains (FIFO or LIFO)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.models import WAITING_STATES, Conversation, Shop


def drain_order(order: str) -> tuple:
    keys = (Conversation.queued_at, Conversation.id)
    return tuple(k.desc() for k in keys) if order == "lifo" else keys


def queue_places(session: Session, shop: Shop) -> dict[int, int]:
    """Every waiting conversation's 1-based place in the shop's drain order (for lists)."""
    ids = session.scalars(select(Conversation.id).where(
        Conversation.shop_id == shop.id, Conversation.state.in_(WAITING_STATES))
        .order_by(*drain_order(shop.settings.get("queue_order", "fifo")))).all()
    return {cid: place for place, cid in enumerate(ids, 1)}
