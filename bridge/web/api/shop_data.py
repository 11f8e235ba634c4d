"""The shop-data API, /api/v1/shop-data, for the shop's own systems (DESIGN.md, Shop data API):
upsert products, orders and coupons in batches of up to 1,000, all or nothing; delete one;
report what a shopper looked at. Called with the shop's API key (bridge/shopdata/keys.py),
never an agent's token; a key reaches its own shop's rows only.
"""
from __future__ import annotations

from datetime import datetime, timezone
from functools import wraps
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from sqlalchemy import select

from bridge.checks import REQUIRED, ConfigError, integer, mapping_of, obj, optional, string
from bridge.conversations.assignment import lock_shop
from bridge.customers import people
from bridge.infra import db
from bridge.models import Channel
from bridge.outreach import consents
from bridge.shopdata import hotcache, keep, keys, rows
from bridge.web.api.errors import APIError
from bridge.web.api.shapes import json_body

bp = Blueprint("shop_data", __name__, url_prefix="/shop-data")

MAX_BODY = 8 * 1024 * 1024  # 1,000 orders of a few lines each are well under 2 MB


def shop_key_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise APIError(401, "unauthorized", "the shop's API key is required: Authorization: Bearer <key> "
                           "(made with `flask --app wsgi shopdata keys create SHOP_KEY`)")
        shop_id = keys.shop_of(db.session(), header[7:].strip())
        if shop_id is None:
            raise APIError(401, "unauthorized", "the API key is unknown or revoked")
        g.shop_id = shop_id
        return view(*args, **kwargs)

    return wrapper


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _channels(shop_id: int) -> dict[str, int]:
    return dict(db.session().execute(select(Channel.key, Channel.id).where(Channel.shop_id == shop_id)).all())


def _checked(kind: str) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """The request's batch of KIND, checked whole (rows.batch), and the shop's channels by key."""
    channels = _channels(g.shop_id)
    try:
        return rows.batch(kind, json_body(MAX_BODY), channels), channels
    except rows.BatchError as exc:
        raise batch_error(exc) from None


def batch_error(exc: rows.BatchError) -> APIError:
    return APIError(422, "invalid", f"{exc.errors[0][0]}: {exc.errors[0][1]}",
                    extra={"row": exc.row, "field": exc.field,
                           "errors": [{"path": p, "message": m} for p, m in exc.errors[:50]]})


@bp.put("/<any(products, orders, coupons):kind>")
@shop_key_required
def put_rows(kind: str):
    """Upsert a batch; 200 {"upserted": n}. One bad row refuses the batch: 422 naming its row and field."""
    checked, channels = _checked(kind)
    session = db.session()
    count = keep.upsert(session, g.shop_id, kind, checked, channels, _now())
    session.commit()
    if kind == "orders":  # the hot list's counts (its products are read fresh)
        hotcache.forget(current_app.extensions["redis"], g.shop_id)
    return jsonify({"upserted": count})


@bp.delete("/<any(products, orders, coupons):kind>/<string(maxlength=64):id_>")
@shop_key_required
def delete_row(kind: str, id_: str):
    session = db.session()
    if not keep.remove(session, g.shop_id, kind, id_):
        session.rollback()
        raise APIError(404, "not_found", f"this shop has no {kind[:-1]} {id_!r}")
    session.commit()
    if kind == "orders":  # the hot list's counts (its products are read fresh)
        hotcache.forget(current_app.extensions["redis"], g.shop_id)
    return "", 204


VIEW = obj({"product_id": (rows.shop_id_check, REQUIRED),
            "buyer": (obj({"user_id": (optional(string(128)), None),
                           "openids": (mapping_of(string(64), string(128), max_items=20), dict)}), REQUIRED),
            "viewed_at": (optional(rows.moment), None)})


@bp.post("/views")
@shop_key_required
def post_views():
    """Shoppers looked at products (a Mini Program page, the shop's own site): {"items": [{"product_id",
    "buyer": {"openids": {channel_key: openid}} or {"user_id"}, "viewed_at"?}]}. A buyer the bridge has
    not met yet (never wrote) is skipped: 200 {"recorded": n, "skipped": m}."""
    body = json_body(MAX_BODY)
    items = body.get("items")
    if set(body) - {"items"} or not isinstance(items, list) or not 1 <= len(items) <= rows.MAX_BATCH:
        raise APIError(422, "invalid", f'the body is {{"items": [...]}} with 1 to {rows.MAX_BATCH} views')
    try:
        views = [VIEW(item, f"items[{i}]") for i, item in enumerate(items)]
    except ConfigError as exc:
        raise batch_error(rows.BatchError(*exc.errors[0], more=tuple(exc.errors[1:]))) from None
    session, now, recorded = db.session(), _now(), 0
    for view in views:
        customer_ids = _customers_of(g.shop_id, view["buyer"])
        for customer_id in customer_ids:
            keep.record_view(session, g.shop_id, customer_id, view["product_id"], min(view["viewed_at"] or now, now))
        recorded += bool(customer_ids)
    session.commit()
    return jsonify({"recorded": recorded, "skipped": len(views) - recorded})


def _customers_of(shop_id: int, buyer: dict[str, Any]) -> list[int]:
    return [c.id for c in people.customers_named(db.session(), shop_id, buyer["openids"], buyer.get("user_id"))]


@bp.put("/links")
@shop_key_required
def put_links():
    """One shopper across channels: each item's ids ({"user_id", "unionid", "openids": {channel key:
    openid}}) are one person; ids already linked elsewhere are merged in. All or nothing: ids the
    shop told apart (two user ids, two unionids) are 422 naming the row."""
    checked, channels = _checked("links")
    session, now = db.session(), _now()
    lock_shop(session, g.shop_id)  # links of one shop are made one batch at a time: merges never cross
    for i, spec in enumerate(checked):
        try:
            people.link(session, g.shop_id, spec, channels, now)
        except people.LinkConflict as exc:
            session.rollback()
            raise batch_error(rows.BatchError(f"items[{i}].{exc.field}", str(exc))) from None
    session.commit()
    return jsonify({"linked": len(checked)})


@bp.post("/links/unlink")
@shop_key_required
def unlink():
    """Take ids out of their people (the same body as PUT /links); each channel's shopper, their
    conversations, notes and tags stay as they were. 200 {"unlinked": n}."""
    checked, channels = _checked("links")
    session = db.session()
    lock_shop(session, g.shop_id)
    removed = sum(people.unlink(session, g.shop_id, spec, channels) for spec in checked)
    session.commit()
    return jsonify({"unlinked": removed})


CONSENT = obj({"openids": (mapping_of(string(64), string(128), max_items=1), REQUIRED),
               "template_id": (string(64), REQUIRED), "count": (integer(1, 100), 1)})


@bp.post("/consents")
@shop_key_required
def post_consents():
    """A Mini Program shopper accepted subscribe messages (wx.requestSubscribeMessage): {"items":
    [{"openids": {"<mini program key>": openid}, "template_id", "count"?}]} — each acceptance lets
    one outreach notice of that template be sent (bridge/outreach/reach.py)."""
    body = json_body(MAX_BODY)
    items = body.get("items")
    if set(body) - {"items"} or not isinstance(items, list) or not 1 <= len(items) <= rows.MAX_BATCH:
        raise APIError(422, "invalid", f'the body is {{"items": [...]}} with 1 to {rows.MAX_BATCH} consents')
    channels = {key: (id_, kind) for key, id_, kind in db.session().execute(
        select(Channel.key, Channel.id, Channel.kind).where(Channel.shop_id == g.shop_id))}
    try:
        checked = [CONSENT(item, f"items[{i}]") for i, item in enumerate(items)]
        for i, item in enumerate(checked):
            if not item["openids"]:
                raise ConfigError(f"items[{i}].openids", "names nobody: {\"<mini program key>\": openid}")
            [(key, _)] = item["openids"].items()
            if channels.get(key, (None, None))[1] != "wechat_mp":
                raise ConfigError(f"items[{i}].openids.{key}", "no Mini Program channel of this key in this shop")
    except ConfigError as exc:
        raise batch_error(rows.BatchError(*exc.errors[0], more=tuple(exc.errors[1:]))) from None
    session, now = db.session(), _now()
    for item in checked:
        [(key, openid)] = item["openids"].items()
        consents.add(session, g.shop_id, channels[key][0], openid, item["template_id"], item["count"], now)
    session.commit()
    return jsonify({"recorded": len(checked)})
