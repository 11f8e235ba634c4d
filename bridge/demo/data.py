"""The demo shop's products, orders and coupons (demo/shop-data.json beside the demo shop file),
loaded by the embedded server so the panel, search, cards and routing by order have something
to show. Its times are relative ({days_ago:2}, {in_days:30}) and its links name the server
({demo}: the bridge; {shop}: the demo shop's page, at localhost as the banner prints it)."""
from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

from flask import Flask
from sqlalchemy import select

from bridge.infra import db
from bridge.models import Channel, Shop
from bridge.shopdata import hotcache, keep

FILE_NAME = "shop-data.json"
_RELATIVE = re.compile(r"\{(days_ago|in_days):([0-9.]+)\}")


def load(app: Flask, demo_file: Path, bridge_base: str, shop_base: str) -> int:
    """Load the demo data beside DEMO_FILE into its first shop; the rows loaded (0: no such file)."""
    path = demo_file.with_name(FILE_NAME)
    if not path.exists():
        return 0
    now = datetime.now(timezone.utc)

    def moment(match: re.Match) -> str:
        days = float(match.group(2)) * (-1 if match.group(1) == "days_ago" else 1)
        return (now + timedelta(days=days)).isoformat()

    text = _RELATIVE.sub(moment, path.read_text(encoding="utf-8"))
    data = json.loads(text.replace("{demo}", bridge_base).replace("{shop}", shop_base))
    shop_key = json.loads(demo_file.read_text(encoding="utf-8"))["shops"][0]["key"]
    with db.new_session(app) as session:
        shop = session.scalar(select(Shop).where(Shop.key == shop_key))
        channels = dict(session.execute(select(Channel.key, Channel.id).where(Channel.shop_id == shop.id)).all())
        count = sum(keep.upsert_file(session, shop.id, data, channels, now).values())
        session.commit()
    hotcache.forget(app.extensions["redis"], shop.id)
    return count
