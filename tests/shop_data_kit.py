"""Shop data for tests: a shop-data API key made as the CLI makes it, and rows to send."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from bridge.infra import db
from bridge.models import Shop
from bridge.shopdata import keys

NOW = datetime.now(timezone.utc)


def api_key(app, shop_key: str = "acme") -> dict:
    """Authorization headers with a new key of SHOP_KEY."""
    with db.new_session(app) as session:
        shop = session.scalar(select(Shop).where(Shop.key == shop_key))
        key = keys.create(session, shop, "tests", NOW)
        session.commit()
    return {"Authorization": f"Bearer {key}"}


def when(days: float = 0) -> str:
    return (NOW - timedelta(days=days)).isoformat()


PRODUCTS = [
    {"id": "p-dress", "title": "碎花连衣裙 夏季新款", "price": "199.00", "image": "https://shop.example/dress.png",
     "url": "https://shop.example/p/dress", "category": "womenswear", "page_path": "pages/item/item?id=dress"},
    {"id": "p-shirt", "title": "男士纯棉衬衫 Oxford shirt", "price": 129, "image": "https://shop.example/shirt.png",
     "url": "https://shop.example/p/shirt", "category": "menswear"},
    {"id": "p-skirt", "title": "百褶半身裙", "price": 89.5, "category": "womenswear", "on_sale": False},
]


def order(number: str, openid: str | None = "o-buyer", state: str = "shipped", days: float = 1,
          channel: str = "acme-oa", **buyer) -> dict:
    return {"number": number, "buyer": {**({"openids": {channel: openid}} if openid else {}), **buyer},
            "items": [{"product_id": "p-dress", "quantity": 2, "price": "199.00"},
                      {"product_id": "p-shirt", "quantity": 1, "price": "129.00"}],
            "amount": "527.00", "state": state, "logistics": {"company": "顺丰", "tracking_number": "SF100"},
            "created_at": when(days)}


COUPONS = [
    {"id": "c-20", "title": "满199减20", "value": "¥20", "condition": "满199可用", "valid_until": when(-30),
     "url": "https://shop.example/c/20"},
    {"id": "c-old", "title": "过期券", "value": "¥5", "valid_until": when(1)},
]


def load(client, headers: dict, orders: list[dict] | None = None) -> None:
    for kind, items in (("products", PRODUCTS), ("coupons", COUPONS), ("orders", orders or [])):
        if items:
            resp = client.put(f"/api/v1/shop-data/{kind}", headers=headers, json={"items": items})
            assert resp.status_code == 200, resp.get_json()
