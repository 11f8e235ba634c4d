"""Reading shop data for agents and routing: a shopper's orders, product search, hot products,
valid coupons, what a shopper looked at, and the entry context shop data derives (the category
of the product, the state of the order) — every read one shop's, by indexed lookups.

A shopper's orders are found by who they are on their channel: their openid there (the orders'
`buyer.openids`), or for a widget shopper the shop's own user id the page signed (`u_<id>`).
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select, tuple_
from sqlalchemy.orm import Session

from bridge.customers import people
from bridge.customers.people import WIDGET_USER
from bridge.models import Customer
from bridge.shopdata import terms
from bridge.shopdata.models import Coupon, Order, OrderBuyer, OrderLine, Product, ProductTerm, ProductView

HOT_DAYS = 30
DERIVED = ("category", "order_state")  # the entry context keys shop data adds


@dataclass(frozen=True)
class Buyer:
    """Who a shopper is, as orders name buyers."""

    channel_id: int | None
    openid: str | None  # on a WeChat channel
    user_id: str | None  # the shop's own id (a widget shopper the page identified)
    unionid: str | None = None  # the shop linked the person by it (customers/people.py)


def buyer_of(customer: Customer, channel_kind: str) -> Buyer:
    if channel_kind == "widget":
        user = customer.external_id[len(WIDGET_USER):] if customer.external_id.startswith(WIDGET_USER) else None
        return Buyer(customer.channel_id, None, user)
    return Buyer(customer.channel_id, customer.external_id, None)


def shopper(session: Session, customer: Customer) -> tuple[list[Customer], list[Buyer]]:
    """CUSTOMER as rows linked to them (customers/people.py), CUSTOMER first, and as orders name
    buyers: on each of those channels, and by the ids the shop linked the person with."""
    rows, person, kinds = people.identity(session, customer)
    buyers = [buyer_of(row, kinds[row.channel_id]) for row in rows]
    if person is not None and (person.user_id or person.unionid):
        buyers.append(Buyer(None, None, person.user_id, person.unionid))
    return rows, buyers


def owns(session: Session, shop_id: int, buyers: Sequence[Buyer], number: str) -> bool:
    """Whether the order NUMBER is one of the shopper's (BUYERS)."""
    return any(number in found for found in _numbers(session, shop_id, buyers).values())


def orders_of(session: Session, shop_id: int, buyers: Sequence[Buyer], limit: int = 50) -> list[Order]:
    """The orders of a shopper known as BUYERS (one per channel, and the person's ids), newest
    first. Indexed lookups by openid, by user id and by unionid, rather than one OR, which
    PostgreSQL would answer by reading every order of the shop."""
    numbers = {n for found in _numbers(session, shop_id, buyers).values() for n in found}
    if not numbers:
        return []
    rows: list[Order] = []
    for part in _chunks(sorted(numbers)):  # each part's newest LIMIT: only those are read whole
        rows += session.scalars(select(Order).where(Order.shop_id == shop_id, Order.number.in_(part))
                                .order_by(Order.created_at.desc(), Order.number.desc()).limit(limit))
    rows.sort(key=lambda o: (o.created_at, o.number), reverse=True)
    return rows[:limit]


def _numbers(session: Session, shop_id: int, buyers: Sequence[Buyer]) -> dict[Buyer, set[str]]:
    found: dict[Buyer, set[str]] = {b: set() for b in buyers}
    by_openid = {(b.channel_id, b.openid): b for b in buyers if b.openid}
    by_user = {b.user_id: b for b in buyers if b.user_id}
    by_union = {b.unionid: b for b in buyers if b.unionid}
    for part in _chunks(list(by_openid)):
        for channel_id, openid, number in session.execute(
                select(OrderBuyer.channel_id, OrderBuyer.openid, OrderBuyer.order_number)
                .where(OrderBuyer.shop_id == shop_id, tuple_(OrderBuyer.channel_id, OrderBuyer.openid).in_(part))):
            found[by_openid[(channel_id, openid)]].add(number)
    for part in _chunks(list(by_user)):
        for user_id, number in session.execute(select(Order.buyer_user_id, Order.number)
                                               .where(Order.shop_id == shop_id, Order.buyer_user_id.in_(part))):
            found[by_user[user_id]].add(number)
    for part in _chunks(list(by_union)):
        for unionid, number in session.execute(select(Order.buyer_unionid, Order.number)
                                               .where(Order.shop_id == shop_id, Order.buyer_unionid.in_(part))):
            found[by_union[unionid]].add(number)
    return found


def products_by_id(session: Session, shop_id: int, ids: Iterable[str]) -> dict[str, Product]:
    out: dict[str, Product] = {}
    for part in _chunks(sorted(set(ids))):
        out.update((p.product_id, p) for p in session.scalars(
            select(Product).where(Product.shop_id == shop_id, Product.product_id.in_(part))))
    return out


def search(session: Session, shop_id: int, query: str, limit: int = 20) -> list[Product]:
    """Products whose titles hold enough of the query's terms (terms.py): the best matches first,
    then those on sale, then the newest ids. Ranked from the term index alone (product_terms
    carries on_sale), and only the LIMIT found are read: a common term matches tens of thousands."""
    wanted = terms.query_terms(query)
    if not wanted:
        return []
    if len(wanted) == 1:  # one term: the index hands the ranking over in its order
        ids = list(session.scalars(
            select(ProductTerm.product_id).where(ProductTerm.shop_id == shop_id, ProductTerm.term == wanted[0])
            .order_by(ProductTerm.on_sale.desc(), ProductTerm.product_id.desc()).limit(limit)))
    else:
        hits, sale = func.count(), func.max(case((ProductTerm.on_sale, 1), else_=0))
        ids = list(session.scalars(
            select(ProductTerm.product_id)
            .where(ProductTerm.shop_id == shop_id, ProductTerm.term.in_(wanted))
            .group_by(ProductTerm.product_id).having(hits >= terms.needed(wanted))
            .order_by(hits.desc(), sale.desc(), ProductTerm.product_id.desc()).limit(limit)))
    products = products_by_id(session, shop_id, ids)
    return [products[pid] for pid in ids if pid in products]


def sold(session: Session, shop_id: int, now: datetime, limit: int = 30) -> list[tuple[str, int]]:
    """(product id, quantity) of the products most ordered in the last 30 days: the count the
    hot list keeps for a few minutes (hotcache.py), as it reads every order line of the month."""
    return [(pid, int(n)) for pid, n in session.execute(
        select(OrderLine.product_id, func.sum(OrderLine.quantity).label("sold"))
        .where(OrderLine.shop_id == shop_id, OrderLine.ordered_at >= now - timedelta(days=HOT_DAYS))
        .group_by(OrderLine.product_id).order_by(func.sum(OrderLine.quantity).desc(), OrderLine.product_id)
        .limit(limit))]


def hot(session: Session, shop_id: int, counted: Sequence[tuple[str, int]],
        limit: int = 10) -> list[tuple[Product, int]]:
    """The hot list from COUNTED (sold): the products as they are now, those on sale only."""
    products = products_by_id(session, shop_id, [pid for pid, _ in counted])
    return [(products[pid], n) for pid, n in counted if pid in products and products[pid].on_sale][:limit]


def coupons_valid(session: Session, shop_id: int, now: datetime, limit: int = 50) -> list[Coupon]:
    return list(session.scalars(select(Coupon).where(Coupon.shop_id == shop_id, Coupon.valid_until > now)
                                .order_by(Coupon.valid_until, Coupon.coupon_id).limit(limit)))


def viewed(session: Session, shop_id: int, customer_ids: Sequence[int],
           limit: int = 10) -> list[tuple[Product, datetime]]:
    rows = session.execute(select(Product, ProductView.viewed_at)
                           .join(ProductView, (ProductView.shop_id == Product.shop_id)
                                 & (ProductView.product_id == Product.product_id))
                           .where(ProductView.shop_id == shop_id, ProductView.customer_id.in_(customer_ids))
                           .order_by(ProductView.viewed_at.desc()).limit(limit * len(customer_ids))).all()
    seen: dict[str, tuple[Product, datetime]] = {}
    for p, at in rows:  # a product looked at on two channels shows once, at its latest look
        seen.setdefault(p.product_id, (p, at))
    return list(seen.values())[:limit]


def derived_context(session: Session, shop_id: int, shoppers: Sequence[tuple[Customer, str]],
                    keys: set[str]) -> dict[int, dict[str, str]]:
    """What shop data adds to each shopper's entry context (DESIGN.md, Entry context), by
    customer id (SHOPPERS: each with their channel's kind): `category` of the product they came
    from; `order_state` of the order they came from, else of their latest order. Only the KEYS
    the shop's routes test are read, a few queries for the whole list. A product or order the
    shop never sent adds nothing."""
    out: dict[int, dict[str, str]] = {c.id: {} for c, _ in shoppers}
    if "category" in keys:
        products = products_by_id(session, shop_id, [c.entry_product for c, _ in shoppers if c.entry_product])
        for c, _ in shoppers:
            if c.entry_product in products and products[c.entry_product].category:
                out[c.id]["category"] = products[c.entry_product].category
    if "order_state" in keys:
        named = _states(session, shop_id, [c.entry_order for c, _ in shoppers if c.entry_order])
        rest = [(c, buyer_of(c, kind)) for c, kind in shoppers if c.entry_order not in named]
        numbers = _numbers(session, shop_id, [b for _, b in rest])
        latest = _states(session, shop_id, [n for ns in numbers.values() for n in ns])
        for c, _ in shoppers:
            if c.entry_order in named:
                out[c.id]["order_state"] = named[c.entry_order][1]
        for c, b in rest:
            mine = [latest[n] for n in numbers.get(b, ()) if n in latest]
            if mine:
                out[c.id]["order_state"] = max(mine)[1]
    return out


def _states(session: Session, shop_id: int, numbers: list[str]) -> dict[str, tuple[datetime, str]]:
    found: dict[str, tuple[datetime, str]] = {}
    for part in _chunks(sorted(set(numbers))):
        for number, created_at, state in session.execute(
                select(Order.number, Order.created_at, Order.state)
                .where(Order.shop_id == shop_id, Order.number.in_(part))):
            found[number] = (created_at, state)
    return found


def _chunks(items: list, size: int = 500) -> Iterable[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
