"""Blocking shoppers (拉黑, bridge/customers/blocks.py): an agent blocks a shopper they see, with a
reason; admins list the shop's blocked shoppers and lift a block."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from bridge.customers import blocks
from bridge.customers.models import CustomerBlock
from bridge.infra import db
from bridge.models import Channel, Customer
from bridge.web.api import conversations
from bridge.web.api.auth import current_agent, login_required
from bridge.web.api.customers import block_shape, visible_customer
from bridge.web.api.errors import APIError, invalid
from bridge.web.api.shapes import json_body

bp = Blueprint("blocks", __name__)


@bp.put("/customers/<id:customer_id>/block")
@login_required
def block(customer_id: int):
    """{"reason"}: the shopper is blocked; what they have open ends. Blocking again keeps the first block."""
    c = visible_customer(customer_id)
    body = json_body()
    reason = body.get("reason")
    if set(body) - {"reason"} or not isinstance(reason, str) or not reason.strip() \
            or len(reason.strip()) > blocks.MAX_REASON:
        raise invalid(f'the body is {{"reason": "…"}}: why, 1 to {blocks.MAX_REASON} characters')
    made = blocks.block(db.session(), c, current_agent(), reason.strip(), conversations.now())
    current_app.extensions["channel_cache"].forget_blocked(c.shop_id)
    return jsonify({"blocked": block_shape(made)})


@bp.delete("/customers/<id:customer_id>/block")
@login_required
def unblock(customer_id: int):
    _admin()
    c = visible_customer(customer_id)
    blocks.unblock(db.session(), c)
    db.session().commit()
    current_app.extensions["channel_cache"].forget_blocked(c.shop_id)
    return "", 204


@bp.get("/blocks")
@login_required
def blocked():
    """The shop's blocked shoppers, the latest first (admins)."""
    _admin()
    rows = db.session().execute(
        select(CustomerBlock, Customer, Channel).options(joinedload(CustomerBlock.agent))
        .join(Customer, Customer.id == CustomerBlock.customer_id).join(Channel, Channel.id == Customer.channel_id)
        .where(CustomerBlock.shop_id == current_agent().shop_id)
        .order_by(CustomerBlock.created_at.desc()).limit(500)).all()
    return jsonify({"items": [{"customer": {"id": c.id, "external_id": c.external_id, "nickname": c.nickname},
                               "channel": {"key": ch.key, "kind": ch.kind}, **block_shape(b)} for b, c, ch in rows]})


def _admin() -> None:
    if current_agent().role != "admin":
        raise APIError(403, "forbidden", "only an admin sees and lifts blocks")
