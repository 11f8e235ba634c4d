"""Shop data as the agent API and the panel show it. Amounts are strings of yuan with two
decimals ("199.00"): exact, unlike a float."""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.shapes import iso
from bridge.shopdata.models import Coupon, Order, Product

STATE_WORDS = {"unpaid": "待付款", "unshipped": "待发货", "shipped": "已发货", "refunding": "退款中",
               "completed": "已完成", "closed": "已关闭"}


def yuan(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def product_json(p: Product) -> dict[str, Any]:
    return {"id": p.product_id, "title": p.title, "price": yuan(p.price_cents), "image": p.image, "url": p.url,
            "category": p.category, "page_path": p.page_path, "on_sale": p.on_sale}


def coupon_json(c: Coupon) -> dict[str, Any]:
    return {"id": c.coupon_id, "title": c.title, "value": c.value, "condition": c.condition,
            "valid_until": iso(c.valid_until), "url": c.url, "page_path": c.page_path}


def order_json(o: Order, products: Mapping[str, Product]) -> dict[str, Any]:
    """An order with its items named by the products the shop sent (a product since deleted
    keeps its id only)."""
    items = []
    for item in o.items:
        p = products.get(item["product_id"])
        items.append({"product_id": item["product_id"], "title": p.title if p else None,
                      "image": p.image if p else None, "quantity": item["quantity"],
                      "price": yuan(item["price_cents"])})
    return {"number": o.number, "state": o.state, "state_text": STATE_WORDS[o.state], "items": items,
            "amount": yuan(o.amount_cents),
            "logistics": {"company": o.logistics_company, "tracking_number": o.tracking_number},
            "created_at": iso(o.created_at), "updated_at": iso(o.updated_at)}
