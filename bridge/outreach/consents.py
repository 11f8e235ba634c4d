"""Subscribe messages a Mini Program shopper agreed to receive, as the shop reports them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from bridge.outreach.models import SubscribeConsent

MOST = 100  # WeChat keeps a shopper's one-time acceptances; more than this is a mistake


def add(session: Session, shop_id: int, channel_id: int, openid: str, template_id: str, count: int,
        now: datetime) -> None:
    row = session.get(SubscribeConsent, (shop_id, channel_id, openid, template_id))
    if row is None:
        session.add(SubscribeConsent(shop_id=shop_id, channel_id=channel_id, openid=openid, template_id=template_id,
                                     remaining=min(count, MOST), updated_at=now))
    else:
        row.remaining, row.updated_at = min(row.remaining + count, MOST), now
