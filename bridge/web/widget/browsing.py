"""What the shopper looks at on the shop's pages: `kefu("viewed", "<product id>")` reports a
product page, and the agent's panel shows the shopper's recent views beside the chat."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, Response, current_app, g

from bridge.checks import ConfigError
from bridge.infra import db
from bridge.shopdata import keep, rows
from bridge.shopdata.models import Product
from bridge.web.api.errors import APIError
from bridge.web.widget import guard, history, inbound, limits
from bridge.web.widget.bodies import json_body

bp = Blueprint("widget_browsing", __name__)


@bp.post("/<channel_key>/viewed")
def viewed(channel_key: str) -> Response:
    """{"product_id"}: 204. A product the shop has not sent (yet) is not kept; a shopper the bridge
    has not met yet is met now (as the page's context would), so views before the first message count."""
    channel, who = g.widget_channel, guard.visitor(g.widget_channel)
    limits.check(current_app.extensions["redis"], "viewed", who.shopper_id, guard.address(), channel.id)
    body = json_body()
    if set(body) != {"product_id"}:
        raise APIError(422, "invalid", 'the body is {"product_id": "<the shop\'s product id>"}')
    try:
        product_id = rows.shop_id_check(body["product_id"], "product_id")
    except ConfigError as exc:
        raise APIError(422, "invalid", str(exc)) from None
    with db.new_session() as session:
        if session.get(Product, (channel.shop_id, product_id)) is None:
            return Response(status=204)
        customer = history.customer_of(session, channel, who.shopper_id)
    if customer is None:
        inbound.take_context(channel, who, {})
    with db.new_session() as session:
        customer = history.customer_of(session, channel, who.shopper_id)
        keep.record_view(session, channel.shop_id, customer.id, product_id, datetime.now(timezone.utc))
        session.commit()
    return Response(status=204)
