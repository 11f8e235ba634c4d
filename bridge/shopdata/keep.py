"""Writing shop data: a checked batch (rows.py) upserted whole in the caller's transaction, and
deletes. Each row replaces what the shop sent before under its id; the lookups beside it (a
product's search terms, an order's buyers and lines) are rewritten with it."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bridge.shopdata import terms
from bridge.shopdata.models import Coupon, Order, OrderBuyer, OrderLine, Product, ProductTerm, ProductView
from bridge.shopdata.rows import KINDS, batch

# Rows per statement: SQLite allows 32,766 bound values, PostgreSQL 65,535.
CHUNK = 500


def upsert(session: Session, shop_id: int, kind: str, rows: list[dict[str, Any]],
           channels: Mapping[str, int], now: datetime) -> int:
    """Write ROWS of KIND (checked by rows.batch) for the shop; the caller commits. Returns the count."""
    {"products": _products, "orders": _orders, "coupons": _coupons}[kind](session, shop_id, rows, channels, now)
    return len(rows)


def upsert_file(session: Session, shop_id: int, found: Mapping[str, list], channels: Mapping[str, int],
                now: datetime, max_items: int = 10**7) -> dict[str, int]:
    """Every kind's rows of a file (FOUND: kind → rows as the API takes them), each checked whole
    first (rows.batch: BatchError names the row), then written, products first as the orders'
    items name them; the caller commits. Rows written by kind."""
    checked = {kind: batch(kind, {"items": items}, channels, max_items) for kind, items in found.items() if items}
    return {kind: upsert(session, shop_id, kind, checked[kind], channels, now) for kind in KINDS if kind in checked}


def remove(session: Session, shop_id: int, kind: str, id_: str) -> bool:
    """Delete one row of KIND and its lookups; False when the shop has no such row."""
    if kind == "products":
        session.execute(delete(ProductTerm).where(ProductTerm.shop_id == shop_id, ProductTerm.product_id == id_))
        session.execute(delete(ProductView).where(ProductView.shop_id == shop_id, ProductView.product_id == id_))
        table, key = Product, Product.product_id
    elif kind == "orders":
        _drop_order_lookups(session, shop_id, [id_])
        table, key = Order, Order.number
    else:
        table, key = Coupon, Coupon.coupon_id
    return session.execute(delete(table).where(table.shop_id == shop_id, key == id_)).rowcount > 0


def _products(session: Session, shop_id: int, rows: list[dict], channels: Mapping[str, int], now: datetime) -> None:
    values = [{"shop_id": shop_id, "product_id": r["id"], "title": r["title"], "price_cents": r["price"],
               "image": r["image"], "url": r["url"], "category": r["category"] or None,
               "page_path": r["page_path"], "on_sale": r["on_sale"], "updated_at": now} for r in rows]
    _upsert(session, Product, values, ("shop_id", "product_id"))
    ids = [r["id"] for r in rows]
    for part in _chunks(ids):
        session.execute(delete(ProductTerm).where(ProductTerm.shop_id == shop_id, ProductTerm.product_id.in_(part)))
    index = [{"shop_id": shop_id, "term": term, "product_id": r["id"], "on_sale": r["on_sale"]}
             for r in rows for term in sorted(terms.title_terms(r["title"]))]
    _insert(session, ProductTerm, index)


def _orders(session: Session, shop_id: int, rows: list[dict], channels: Mapping[str, int], now: datetime) -> None:
    values = [{"shop_id": shop_id, "number": r["number"], "buyer_user_id": r["buyer"]["user_id"],
               "buyer_unionid": r["buyer"]["unionid"], "buyer_openids": r["buyer"]["openids"],
               "items": [{"product_id": i["product_id"], "quantity": i["quantity"], "price_cents": i["price"]}
                         for i in r["items"]],
               "amount_cents": r["amount"], "state": r["state"],
               "logistics_company": r["logistics"].get("company") or None,
               "tracking_number": r["logistics"].get("tracking_number") or None,
               "created_at": r["created_at"], "updated_at": r["updated_at"]} for r in rows]
    # An order is the shop's latest word on it: a row older than the one kept (updated_at) is
    # passed over, so a late resend of "unshipped" never undoes "shipped".
    written = _upsert(session, Order, values, ("shop_id", "number"), newer_only=True)
    rows = [r for r in rows if r["number"] in written]
    _drop_order_lookups(session, shop_id, [r["number"] for r in rows])
    _insert(session, OrderBuyer, [
        {"shop_id": shop_id, "channel_id": channels[key], "openid": openid, "order_number": r["number"],
         "created_at": r["created_at"]}
        for r in rows for key, openid in r["buyer"]["openids"].items()])
    _insert(session, OrderLine, [
        {"shop_id": shop_id, "order_number": r["number"], "line": n, "product_id": i["product_id"],
         "quantity": i["quantity"], "ordered_at": r["created_at"]}
        for r in rows for n, i in enumerate(r["items"])])


def _drop_order_lookups(session: Session, shop_id: int, numbers: list[str]) -> None:
    for part in _chunks(sorted(numbers)):
        session.execute(delete(OrderBuyer).where(OrderBuyer.shop_id == shop_id, OrderBuyer.order_number.in_(part)))
        session.execute(delete(OrderLine).where(OrderLine.shop_id == shop_id, OrderLine.order_number.in_(part)))


def _coupons(session: Session, shop_id: int, rows: list[dict], channels: Mapping[str, int], now: datetime) -> None:
    _upsert(session, Coupon, [
        {"shop_id": shop_id, "coupon_id": r["id"], "title": r["title"], "value": r["value"],
         "condition": r["condition"] or None, "valid_until": r["valid_until"], "url": r["url"],
         "page_path": r["page_path"], "updated_at": now} for r in rows], ("shop_id", "coupon_id"))


def _insert_of(session: Session, table):
    return (postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)


def _upsert(session: Session, table, values: list[dict], keys: tuple[str, ...], newer_only: bool = False) -> set:
    """Insert or replace VALUES by KEYS; NEWER_ONLY: replace a row only with a later updated_at.
    Rows go in key order, so two batches sharing rows lock them in the same order (no deadlock).
    Returns the last key column of the rows written."""
    values = sorted(values, key=lambda v: tuple(v[k] for k in keys))
    written: set = set()
    for part in _chunks(values):
        statement = _insert_of(session, table)
        columns = {c: statement.excluded[c] for c in part[0] if c not in keys}
        where = (table.updated_at <= statement.excluded["updated_at"]) if newer_only else None
        upsert = statement.values(part).on_conflict_do_update(index_elements=list(keys), set_=columns, where=where)
        written.update(session.scalars(upsert.returning(getattr(table, keys[-1]))))
    return written


def _insert(session: Session, table, values: list[dict]) -> None:
    for part in _chunks(values, 2000):
        session.execute(_insert_of(session, table), part)


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


MAX_VIEWS_KEPT = 50  # per shopper: the panel shows the latest few


def record_view(session: Session, shop_id: int, customer_id: int, product_id: str, at: datetime) -> None:
    """The shopper looked at the product at AT (a later look moves it up); only the latest
    MAX_VIEWS_KEPT products are kept per shopper."""
    statement = _insert_of(session, ProductView).values(shop_id=shop_id, customer_id=customer_id,
                                                        product_id=product_id, viewed_at=at)
    later = func.max if session.get_bind().dialect.name == "sqlite" else func.greatest
    session.execute(statement.on_conflict_do_update(
        index_elements=["shop_id", "customer_id", "product_id"],
        set_={"viewed_at": later(statement.excluded["viewed_at"], ProductView.viewed_at)}))
    mine = (ProductView.shop_id == shop_id) & (ProductView.customer_id == customer_id)
    old = list(session.scalars(select(ProductView.product_id).where(mine).order_by(ProductView.viewed_at.desc())
                               .offset(MAX_VIEWS_KEPT).limit(100)))
    if old:
        session.execute(delete(ProductView).where(mine, ProductView.product_id.in_(old)))
