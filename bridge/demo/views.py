"""The demo's URLs, served only in demo mode and only for sandbox channels:

/demo/wechat-api/cgi-bin/…            WeChat's API for the sandbox apps (the stand-in)
/demo/wechat-api/media/<media_id>     an image uploaded to it, as the shopper's phone shows it
/demo/shopper/<channel_key>           one shopper's chat, as their WeChat shows it
/demo/shopper/<channel_key>/feed      what that phone received since `after`
/demo/shopper/<channel_key>/push      write as that shopper: a signed push to the channel's webhook
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
)
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from bridge.channels.cache import snapshot
from bridge.channels.contract import ChannelConfig
from bridge.channels.runtime import demo_api_base
from bridge.demo import pushes
from bridge.demo.standin import StandIn
from bridge.demo.wechat_api import Call, error, multipart_files
from bridge.infra import db
from bridge.models import Channel, Shop
from bridge.shopdata.models import Product
from bridge.shopdata.shapes import yuan

bp = Blueprint("demo", __name__, url_prefix="/demo", template_folder="templates", static_folder="static")
URL_SPACE = "/demo"
OPENID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
IMAGE_TYPES = {b"\xff\xd8\xff": "image/jpeg", b"\x89PNG": "image/png", b"GIF8": "image/gif"}


@bp.before_request
def demo_mode_only() -> None:
    if not current_app.config.get("DEMO_URL"):
        abort(404)


def standin() -> StandIn:
    app = current_app._get_current_object()
    if "demo_standin" not in app.extensions:
        folder = Path(app.config.get("DEMO_DIR") or Path(app.instance_path) / "demo-wechat")
        app.extensions["demo_standin"] = StandIn(app.config["SECRET_KEY"], folder,
                                                 lambda app_id: _sandbox_secret(app, app_id), demo_api_base(app))
    return app.extensions["demo_standin"]


def _sandbox_secret(app, app_id: str) -> str | None:
    with db.new_session(app) as session:
        for channel in session.scalars(select(Channel).where(Channel.enabled.is_(True))):
            s = channel.settings or {}
            if s.get("sandbox") and s.get("app_id") == app_id:
                return s.get("app_secret")
    return None


# -- WeChat's API, played --------------------------------------------------------------------

@bp.route("/wechat-api/cgi-bin/<path:rest>", methods=["GET", "POST"])
def wechat_api(rest: str) -> Response:
    call = Call(request.method, "/cgi-bin/" + rest, request.args.to_dict())
    raw = request.get_data(cache=False)
    if (request.content_type or "").startswith("multipart/form-data"):
        call.files = multipart_files(request.content_type, raw)
    elif raw:
        call.json = _json_or_none(raw)
    if call.path == "/cgi-bin/media/get":
        return _media_get(call)
    return jsonify(standin().handle(call))


def _media_get(call: Call) -> Response:
    """A shopper's image by its media id, as WeChat hands it to the bridge's fetch job: the file
    with its type and name, or JSON with the errcode (40007 for an id it does not keep)."""
    app_id, code = standin().token_owner(call.query.get("access_token"))
    media_id = call.query.get("media_id", "")
    data = standin().media(media_id) if app_id is not None else None
    if data is None:
        return jsonify(error(code or 40007))
    mimetype = next((t for magic, t in IMAGE_TYPES.items() if data.startswith(magic)), "application/octet-stream")
    return Response(data, mimetype=mimetype, headers={"Content-Disposition": f'attachment; filename="{media_id}"'})


@bp.get("/wechat-api/media/<media_id>")
def media(media_id: str) -> Response:
    data = standin().media(media_id)
    if data is None:
        abort(404)
    mimetype = next((t for magic, t in IMAGE_TYPES.items() if data.startswith(magic)), "application/octet-stream")
    return Response(data, mimetype=mimetype, headers={"Cache-Control": "private, max-age=86400"})


# -- the shopper's phone ---------------------------------------------------------------------

def _sandbox_channel(channel_key: str) -> tuple[ChannelConfig, str]:
    """The sandbox channel and its shop's name; 404 for any other channel."""
    with db.new_session(current_app) as session:
        channel = session.scalar(select(Channel).where(Channel.key == channel_key, Channel.enabled.is_(True)))
        if channel is None or channel.kind not in pushes.KINDS or not (channel.settings or {}).get("sandbox"):
            abort(404)
        return snapshot(channel), session.get(Shop, channel.shop_id).name


def _openid() -> str:
    openid = (request.values.get("openid") or "demo-shopper").strip()
    if not OPENID.match(openid):
        abort(400, "openid: 1 to 64 letters, digits, _ or -")
    return openid


@bp.get("/shopper/<channel_key>")
def shopper_page(channel_key: str) -> str:
    channel, shop_name = _sandbox_channel(channel_key)
    phone = standin().phone
    return render_template("demo/shopper.html", channel=channel, shop_name=shop_name, openid=_openid(),
                           others=phone.shoppers(channel.settings["app_id"])[:8], menus=pushes.menu_keys(channel))


@bp.get("/shopper/<channel_key>/feed")
def feed(channel_key: str) -> Response:
    channel, _ = _sandbox_channel(channel_key)
    after = request.args.get("after", "0")
    entries = standin().phone.read(channel.settings["app_id"], _openid(), int(after) if after.isdigit() else 0)
    return jsonify({"items": entries})


@bp.post("/shopper/<channel_key>/push")
def push(channel_key: str) -> Response:
    """Write as the shopper: the push WeChat would send, signed (and sealed) with the channel's
    token and key, through the channel's webhook; its passive reply lands on the phone too."""
    channel, _ = _sandbox_channel(channel_key)
    openid = _openid()
    form = request.form.to_dict()
    picture = request.files.get("image")
    try:
        shown, signed = pushes.build(standin(), channel, openid, form, picture.read() if picture else None)
    except ValueError as exc:
        return jsonify({"error": {"code": "bad_request", "message": str(exc)}}), 400
    phone = standin().phone
    app_id = channel.settings["app_id"]
    phone.add(app_id, openid, "shopper", "push", shown)
    status, answer, passive = pushes.post(current_app._get_current_object(), channel, signed)
    if status != 200:
        phone.add(app_id, openid, "shop", "error", {"msgtype": "error", "error": {"status": status, "body": answer}})
    elif passive is not None:
        phone.add(app_id, openid, "shop", "passive", passive)
    return jsonify({"status": status})


def _json_or_none(raw: bytes) -> dict | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def render_unrouted(exc: HTTPException) -> Response:
    return Response(exc.description or exc.name, status=exc.code, content_type="text/plain; charset=utf-8")


bp.register_error_handler(HTTPException, render_unrouted)


# -- the shop's web page, with the widget on it -----------------------------------------------

@bp.get("/shop/<channel_key>")
def shop_page(channel_key: str) -> str:
    """A demo shop's product page carrying the widget's one tag. The script is loaded from the
    bridge's own address (DEMO_URL), so a page opened at localhost runs it cross-origin, as a
    shop's site does."""
    with db.new_session(current_app) as session:
        channel = session.scalar(select(Channel).where(Channel.key == channel_key, Channel.enabled.is_(True)))
        if channel is None or channel.kind != "widget":
            abort(404)
        shop_name = session.get(Shop, channel.shop_id).name
        product_id = request.args.get("product", "P100")[:64]
        product = session.get(Product, (channel.shop_id, product_id))  # the demo's shop data, if loaded
        shown = product and {"title": product.title, "price": yuan(product.price_cents), "image": product.image}
    base = current_app.config["DEMO_URL"].rstrip("/")
    scene = request.args.get("scene", "")[:64]
    return render_template("demo/shop.html", widget_src=f"{base}/widget/{channel_key}/widget.js",
                           inbox_url=f"{base}/inbox/", scene=scene, shop_name=shop_name,
                           product=product_id, shown=shown)
