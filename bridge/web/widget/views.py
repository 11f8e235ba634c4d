"""The widget's public API (docs/widget.md): the script, the visitor, the state and history,
messages, images, the rating, the page's context, typing, and the shopper's images."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, send_from_directory
from sqlalchemy import select

from bridge.channels import registry
from bridge.channels.contract import MAX_ENTRY, MAX_ENTRY_PAGE, ChannelConfig, RequestRejected
from bridge.effects import Effects
from bridge.events import names
from bridge.infra import db
from bridge.inputs import storable
from bridge.media.images import image_type
from bridge.media.store import MediaMissing
from bridge.media.store import store as media_store
from bridge.models import OPEN_STATES, Conversation, Shop
from bridge.visibility import audience
from bridge.web.api.errors import APIError
from bridge.web.widget import guard, history, inbound, limits
from bridge.web.widget.bodies import json_body as _json
from bridge.web.widget.guard import Shopper

bp = Blueprint("widget_views", __name__)
STATIC = Path(__file__).parent / "static"
MAX_TEXT = 2000
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
DIGEST = re.compile(r"^[0-9a-f]{64}$")


# -- the script and its styles

@bp.get("/<channel_key>/widget.js")
def script(channel_key: str) -> Response:
    return _asset("widget.js", "application/javascript; charset=utf-8")


@bp.get("/<channel_key>/widget.css")
def styles(channel_key: str) -> Response:
    return _asset("widget.css", "text/css; charset=utf-8")


def _asset(name: str, mimetype: str) -> Response:
    response = send_from_directory(STATIC, name, mimetype=mimetype, max_age=300)
    response.headers["Access-Control-Allow-Origin"] = "*"  # a script and its styles: no secrets
    return response


# -- who the shopper is

@bp.post("/<channel_key>/visitor")
def visitor(channel_key: str) -> Response:
    channel: ChannelConfig = g.widget_channel
    body, adapter = _json(), guard.adapter()
    # A kept token checked at each page load is cheap and frequent; making visitors is not.
    limits.check(_redis(), "check" if set(body) == {"token"} else "visitor", None, guard.address())
    try:
        if body.get("user") is not None:
            who = adapter.identify(body.get("user"), body.get("hash"), body.get("name"))
        elif body.get("token") is not None:
            who = adapter.visitor_of(body.get("token"))
        else:
            who = None
    except RequestRejected as exc:
        raise guard.refused(exc)
    if channel.settings.get("require_identity") and (who is None or not who.identified):
        raise APIError(403, "identity_required", "this shop's chat is for its logged-in customers: log in first")
    who = who or adapter.new_visitor()
    with db.new_session() as session:
        shop = session.get(Shop, channel.shop_id)
        shop_name = shop.name if shop else ""
    return jsonify({"token": adapter.token_for(who), "visitor": who.shopper_id,
                    "identified": who.identified, "shop": {"name": shop_name}})


# -- what the shopper sees

@bp.get("/<channel_key>/state")
def state(channel_key: str) -> Response:
    channel, who = g.widget_channel, _visitor()
    limits.check(_redis(), "state", who.shopper_id, guard.address(), channel.id)
    # The feed's position first: a message sent between this and the read below is in both,
    # and the widget shows it once; read the other way round, it could be in neither.
    position = _position(channel, who)
    with db.new_session() as session:
        customer = history.customer_of(session, channel, who.shopper_id)
        shown, more = history.messages(session, guard.adapter(), customer)
        conversation = history.conversation(session, customer)
    return jsonify({"conversation": conversation, "messages": shown, "more": more,
                    "position": position})


@bp.get("/<channel_key>/messages")
def older(channel_key: str) -> Response:
    channel, who = g.widget_channel, _visitor()
    limits.check(_redis(), "state", who.shopper_id, guard.address(), channel.id)
    before = request.args.get("before", type=int)
    if before is None or before < 1:
        raise APIError(400, "bad_request", "before must be a message id")
    with db.new_session() as session:
        customer = history.customer_of(session, channel, who.shopper_id)
        shown, more = history.messages(session, guard.adapter(), customer, before)
    return jsonify({"messages": shown, "more": more})


@bp.get("/<channel_key>/media/<digest>")
def media(channel_key: str, digest: str) -> Response:
    if not DIGEST.match(digest) or not guard.adapter().media_signed(digest, request.args.get("s", "")):
        raise APIError(404, "not_found", "no such image")
    try:
        content = media_store().get(digest)
    except MediaMissing:
        raise APIError(404, "not_found", "the image is no longer kept")
    response = Response(content, mimetype=image_type(content) or "application/octet-stream")
    response.headers["Cache-Control"] = "private, max-age=86400, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


# -- what the shopper does

@bp.post("/<channel_key>/messages")
def write(channel_key: str) -> Response:
    channel, who = g.widget_channel, _visitor()
    if request.mimetype == "multipart/form-data":
        return _image(channel, who)
    limits.check(_redis(), "message", who.shopper_id, guard.address(), channel.id)
    body = _json()
    client_id = _client_id(body.get("client_id"))
    text = _text(body.get("text"), "text", MAX_TEXT, required=True)
    if body.get("context") is not None:
        inbound.take_context(channel, who, _context(body["context"]))
    return _stored(channel, who, *inbound.take_message(channel, who, client_id, "text", text=text))


@bp.post("/<channel_key>/rating")
def rate(channel_key: str) -> Response:
    """The rating card's stars and comment, taken as the shopper's answer to it ("5 很好"), as a
    WeChat shopper's reply is: the pipeline rates the conversation the card is for."""
    channel, who = g.widget_channel, _visitor()
    limits.check(_redis(), "message", who.shopper_id, guard.address(), channel.id)
    body = _json()
    score = body.get("score")
    if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
        raise APIError(422, "invalid", "score must be a whole number from 1 to 5")
    comment = _text(body.get("comment"), "comment", 500) or ""
    text = f"{score} {comment}".strip()
    return _stored(channel, who, *inbound.take_message(channel, who, _client_id(body.get("client_id")), "text",
                                                       text=text, raw={"rating": score}))


@bp.post("/<channel_key>/context")
def context(channel_key: str) -> Response:
    channel, who = g.widget_channel, _visitor()
    limits.check(_redis(), "context", who.shopper_id, guard.address(), channel.id)
    inbound.take_context(channel, who, _context(_json()))
    return Response(status=204)


@bp.post("/<channel_key>/typing")
def typing(channel_key: str) -> Response:
    """The shopper is typing (or stopped): the agents who see the conversation are told."""
    channel, who = g.widget_channel, _visitor()
    limits.check(_redis(), "typing", who.shopper_id, guard.address(), channel.id)
    on = _json().get("typing")
    if not isinstance(on, bool):
        raise APIError(422, "invalid", "typing must be true or false")
    with db.new_session() as session:
        customer = history.customer_of(session, channel, who.shopper_id)
        open_one = customer and session.scalar(select(Conversation).where(
            Conversation.customer_id == customer.id, Conversation.state.in_(OPEN_STATES)).limit(1))
        if open_one:
            effects = Effects(channel.shop_id)
            effects.publish(names.CUSTOMER_TYPING, open_one.id,
                            audience(open_one.agent_id, open_one.state, customer.id), typing=on)
            effects.after_commit()
    return Response(status=204)


def _image(channel: ChannelConfig, who: Shopper) -> Response:
    limits.check(_redis(), "image", who.shopper_id, guard.address(), channel.id)
    client_id = _client_id(request.form.get("client_id"))
    upload = request.files.get("image")
    if upload is None:
        raise APIError(400, "bad_request", "send the image as the multipart field `image`")
    most = registry.get("widget").capabilities.media_max_bytes
    content = upload.stream.read(most + 1)
    if len(content) > most:
        raise APIError(413, "too_large", f"an image may be at most {most // (1024 * 1024)} MB")
    kind = image_type(content)
    if kind is None:
        raise APIError(422, "invalid", "the file is not a JPEG, PNG or GIF image")
    receipt_key = inbound.external_id(who, client_id)
    known = inbound.stored_message_id(channel, receipt_key)
    if known is not None:
        return _stored(channel, who, known, False)
    digest = media_store().put(content)
    media = {"sha256": digest, "content_type": kind, "size": len(content), "state": "stored"}
    return _stored(channel, who, *inbound.take_message(channel, who, client_id, "image", media=media))


def _stored(channel: ChannelConfig, who: Shopper, message_id: int, created: bool) -> Response:
    view = history.view_of(guard.adapter(), inbound.message_row(message_id))
    if created:
        inbound.publish_own(channel, guard.adapter(), who, view)
    return jsonify({"message": view}), 201 if created else 200


# -- checks

def _visitor() -> Shopper:
    return guard.visitor(g.widget_channel)


def _client_id(value: Any) -> str:
    if not isinstance(value, str) or not CLIENT_ID.match(value):
        raise APIError(422, "invalid", "client_id must be 8 to 64 letters, digits, - or _")
    return value


def _text(value: Any, name: str, most: int, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value.strip()):
        raise APIError(422, "invalid", f"{name} must be text")
    if len(value) > most:
        raise APIError(422, "invalid", f"{name} may be at most {most} characters")
    if not storable(value):
        raise APIError(422, "invalid", f"{name} holds a NUL character or a lone surrogate")
    return value.strip() if not required else value


def _context(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise APIError(422, "invalid", "context must be an object")
    unknown = sorted(set(value) - set(inbound.CONTEXT_KEYS))
    if unknown:
        raise APIError(422, "invalid", f"context has no field {unknown[0][:40]!r}: "
                       f"it takes {', '.join(inbound.CONTEXT_KEYS)}")
    out = {}
    for key, item in value.items():
        if item is None or item == "":
            continue
        most = MAX_ENTRY_PAGE if key == "page" else MAX_ENTRY
        if key == "page" and isinstance(item, str):
            item = item[:MAX_ENTRY_PAGE]  # a long URL is still the page it names
        out[key] = _text(item, f"context.{key}", most)
    return out


def _position(channel: ChannelConfig, who: Shopper) -> str:
    try:
        return guard.adapter().feed_position(who.shopper_id)
    except Exception:  # noqa: BLE001 - redis's errors
        raise APIError(503, "unavailable", "live messages are unavailable right now; try again",
                       headers={"Retry-After": "5"})


def _redis():
    return current_app.extensions["redis"]
