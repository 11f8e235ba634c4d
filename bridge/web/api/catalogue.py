"""Shop data for agents (the panel beside the chat): the shopper's orders and the products they
looked at, product search, hot products and the shop's valid coupons — and the cards an agent
sends of them (`card_of`, used by replies.py). Each read is the agent's shop's only."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from bridge.channels import registry
from bridge.infra import db
from bridge.models import Conversation, Customer
from bridge.shapes import iso
from bridge.shopdata import cards, hotcache, read
from bridge.shopdata.models import Coupon, Order, Product
from bridge.shopdata.shapes import coupon_json, order_json, product_json
from bridge.web.api import conversations
from bridge.web.api.auth import current_agent, login_required
from bridge.web.api.conversations import visible
from bridge.web.api.errors import APIError, invalid, not_found
from bridge.web.api.shapes import int_arg

bp = Blueprint("catalogue", __name__)

MAX_QUERY = 64


def _identity(c: Conversation) -> tuple[list[Customer], list[read.Buyer]]:
    return read.shopper(db.session(), db.session().get(Customer, c.customer_id))


@bp.get("/conversations/<id:conversation_id>/shop-panel")
@login_required
def shop_panel(conversation_id: int):
    """The panel beside the chat in one call (what opening a conversation shows): the shopper's
    orders and recent views, the hot products and the valid coupons — one login check, one look
    at who the shopper is, instead of four requests queueing for the same workers."""
    c = visible(conversation_id)
    session = db.session()
    rows, buyers = _identity(c)
    return jsonify({"orders": _orders(c, buyers, 50), "viewed": _viewed(c, [r.id for r in rows], 10),
                    "hot": _hot(session, c.shop_id), "coupons": _coupons(c.shop_id)})


@bp.get("/conversations/<id:conversation_id>/orders")
@login_required
def conversation_orders(conversation_id: int):
    """The shopper's orders, newest first, with their items named."""
    c = visible(conversation_id)
    return jsonify({"items": _orders(c, _identity(c)[1], int_arg("limit", 50, 1, 200))})


@bp.get("/conversations/<id:conversation_id>/viewed")
@login_required
def conversation_viewed(conversation_id: int):
    """The products the shopper looked at last (the widget's `viewed`, the shop's reports), newest first."""
    c = visible(conversation_id)
    return jsonify({"items": _viewed(c, [r.id for r in _identity(c)[0]], int_arg("limit", 10, 1, 50))})


@bp.get("/products")
@login_required
def products():
    """Search by title: ?q=连衣 (at least one letter, digit or Chinese character)."""
    q = request.args.get("q", "")
    if len(q) > MAX_QUERY:
        raise invalid(f"q is at most {MAX_QUERY} characters")
    found = read.search(db.session(), current_agent().shop_id, q, limit=int_arg("limit", 20, 1, 50))
    return jsonify({"items": [product_json(p) for p in found]})


@bp.get("/products/hot")
@login_required
def hot_products():
    """The products most ordered in the last 30 days (counted every few minutes; each shown as it is now)."""
    return jsonify({"items": _hot(db.session(), current_agent().shop_id)})


@bp.get("/coupons")
@login_required
def coupons():
    """The shop's coupons still valid, the soonest to expire first."""
    return jsonify({"items": _coupons(current_agent().shop_id)})


def _orders(c: Conversation, buyers: list[read.Buyer], limit: int) -> list[dict[str, Any]]:
    session = db.session()
    orders = read.orders_of(session, c.shop_id, buyers, limit=limit)
    products = read.products_by_id(session, c.shop_id, [i["product_id"] for o in orders for i in o.items])
    return [order_json(o, products) for o in orders]


def _viewed(c: Conversation, customer_ids: list[int], limit: int) -> list[dict[str, Any]]:
    seen = read.viewed(db.session(), c.shop_id, customer_ids, limit=limit)
    return [{**product_json(p), "viewed_at": iso(at)} for p, at in seen]


def _hot(session, shop_id: int) -> list[dict[str, Any]]:
    counted = hotcache.get(current_app.extensions["redis"], shop_id,
                           lambda: read.sold(session, shop_id, conversations.now()))
    return [{**product_json(p), "sold": n} for p, n in read.hot(session, shop_id, counted)]


def _coupons(shop_id: int) -> list[dict[str, Any]]:
    return [coupon_json(c) for c in read.coupons_valid(db.session(), shop_id, conversations.now())]


ID_FIELD = {"product": "product_id", "coupon": "coupon_id", "order": "order_number"}


def card_of(c: Conversation, kind: str, body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """(the message's text, its media) for a card of KIND the agent sends in C: the snapshot of
    the product, coupon or order (bridge/shopdata/cards.py) in the form the channel shows.
    A coupon must still be valid; an order must be this shopper's own."""
    field = ID_FIELD[kind]
    unknown = sorted(set(body) - {"type", "client_id", field})
    if unknown:
        raise invalid(f"unknown field {unknown[0]!r} for a {kind} card (it takes {field})")
    id_ = body.get(field)
    if not isinstance(id_, str) or not id_ or len(id_) > 64:
        raise invalid(f"{field} is required: the shop's id of the {kind}")
    session = db.session()
    if kind == "product":
        product = session.get(Product, (c.shop_id, id_))
        if product is None:
            raise not_found(f"this shop has no product {id_!r}")
        card = cards.product_card(product)
    elif kind == "coupon":
        coupon = session.get(Coupon, (c.shop_id, id_))
        if coupon is None:
            raise not_found(f"this shop has no coupon {id_!r}")
        if coupon.valid_until <= conversations.now():
            raise APIError(409, "conflict", f"the coupon {id_!r} expired")
        card = cards.coupon_card(coupon, c.channel.shop.timezone)
    else:
        order = session.get(Order, (c.shop_id, id_))
        if order is None or not read.owns(session, c.shop_id, _identity(c)[1], id_):
            raise not_found(f"the shopper has no order {id_!r}")
        card = cards.order_card(order, read.products_by_id(session, c.shop_id, [i["product_id"] for i in order.items]))
    card = cards.for_channel(card, registry.get(c.channel.kind).capabilities.card_forms)
    return card["title"], card
