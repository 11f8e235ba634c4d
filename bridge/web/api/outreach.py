"""Outreach (主动发起会话, bridge/outreach/reach.py) for agents: find a shopper by order number or
nickname, see how they can be reached, write to them; and the record of who reached whom."""
from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bridge.customers import people
from bridge.infra import db
from bridge.models import Agent, Channel, Customer
from bridge.outreach import reach
from bridge.outreach.models import Outreach
from bridge.shapes import iso, message_json, person
from bridge.shopdata.models import Order
from bridge.web.api import conversations
from bridge.web.api.auth import current_agent, login_required
from bridge.web.api.errors import APIError, invalid, not_found
from bridge.web.api.replies import MAX_TEXT
from bridge.web.api.shapes import json_body

bp = Blueprint("outreach", __name__)

MAX_QUERY = 64


@bp.get("/outreach/candidates")
@login_required
def candidates():
    """?q= an order number (its buyer, on each channel they wrote from) or a part of a nickname:
    the shoppers found, each with how they can be reached now ("message", "template") or why not."""
    q = request.args.get("q", "").strip()
    if not q or len(q) > MAX_QUERY:
        raise invalid(f"q is an order number or a nickname, 1 to {MAX_QUERY} characters")
    session, shop_id, now = db.session(), current_agent().shop_id, conversations.now()
    found = _by_order(session, shop_id, q)
    if not found:
        pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        found = list(session.scalars(select(Customer).where(
            Customer.shop_id == shop_id, Customer.nickname.ilike(pattern, escape="\\"),
            Customer.last_inbound_at >= now - timedelta(days=reach.RECENT_DAYS))
            .order_by(Customer.last_inbound_at.desc()).limit(20)))
    items = []
    for c in found:
        channel = session.get(Channel, c.channel_id)
        try:
            how, why = reach.way(session, c, channel, now), None
        except reach.Refused as exc:
            how, why = None, {"code": exc.code, "message": exc.message}
        items.append({"customer": {"id": c.id, "external_id": c.external_id, "nickname": c.nickname},
                      "channel": {"key": channel.key, "kind": channel.kind},
                      "last_seen_at": iso(c.last_inbound_at), "how": how, "refused": why})
    return jsonify({"items": items})


def _by_order(session, shop_id: int, number: str) -> list[Customer]:
    order = session.get(Order, (shop_id, number))
    if order is None:
        return []
    channels = {ch.key: ch.id for ch in session.scalars(select(Channel).where(Channel.shop_id == shop_id))}
    for key, openid in (order.buyer_openids or {}).items():
        if key in channels:
            _customer(session, shop_id, channels[key], openid)
    return people.customers_named(session, shop_id, order.buyer_openids or {}, order.buyer_user_id)


def _customer(session, shop_id: int, channel_id: int, openid: str) -> Customer:
    """The buyer on this channel: a buyer who never wrote there is known by the order's openid,
    and may still be reached by a template notice."""
    found = session.scalar(select(Customer).where(Customer.channel_id == channel_id, Customer.external_id == openid))
    if found is not None:
        return found
    session.add(Customer(shop_id=shop_id, channel_id=channel_id, external_id=openid, created_at=conversations.now()))
    try:
        session.commit()
    except IntegrityError:  # they wrote at this moment
        session.rollback()
    return session.scalar(select(Customer).where(Customer.channel_id == channel_id, Customer.external_id == openid))


@bp.post("/outreach")
@login_required
def post_outreach():
    """{"customer_id", "text"}: 201 {"conversation_id", "how", "message"}; a refusal is 409 whose
    code names the rule (blocked, not_recent, window_closed, no_consent, not_subscribed, taken, waiting,
    full, busy)."""
    body = json_body()
    if set(body) - {"customer_id", "text"}:
        raise invalid("the body is {\"customer_id\", \"text\"}")
    text, customer_id = body.get("text"), body.get("customer_id")
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
        raise invalid(f"text must be 1 to {MAX_TEXT} characters")
    agent = current_agent()
    known = isinstance(customer_id, int) and not isinstance(customer_id, bool) and 0 < customer_id < 2**63
    customer = db.session().get(Customer, customer_id) if known else None
    if customer is None or customer.shop_id != agent.shop_id:
        raise not_found("no such shopper")
    try:
        done = reach.reach(db.session(), agent, customer, text.strip(), conversations.now())
    except reach.Refused as exc:
        db.session().rollback()
        raise APIError(409, exc.code, exc.message) from None
    return jsonify({"conversation_id": done.conversation.id, "how": done.how,
                    "message": message_json(done.message)}), 201


@bp.get("/outreach")
@login_required
def outreach_log():
    """The latest outreaches: an admin's shop's, an agent's own."""
    agent = current_agent()
    query = select(Outreach, Agent).join(Agent, Agent.id == Outreach.agent_id).where(Outreach.shop_id == agent.shop_id)
    if agent.role != "admin":
        query = query.where(Outreach.agent_id == agent.id)
    rows = db.session().execute(query.order_by(Outreach.id.desc()).limit(200)).all()
    return jsonify({"items": [{"id": o.id, "agent": person(a), "customer_id": o.customer_id,
                               "conversation_id": o.conversation_id, "message_id": o.message_id, "how": o.how,
                               "created_at": iso(o.created_at)} for o, a in rows]})
