"""What a demo shopper does, as the push WeChat would send for it (the channel kind's simulator
builds, signs and seals it), and what their WeChat makes of the passive reply."""
from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from bridge.channels import registry
from bridge.channels.contract import ChannelConfig
from bridge.demo.standin import StandIn
from bridge.infra import db
from bridge.models import EntryRoute

KINDS = ("wechat_oa", "wechat_mp")  # the channel kinds whose shopper the demo plays
MAX_TEXT = 2048
MAX_IMAGE = 2 * 1024 * 1024
IMAGE_MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8")
Push = tuple[dict[str, str], bytes, str]  # query args, body, content type


def menu_keys(channel: ChannelConfig) -> list[str]:
    """The menu keys the shop routes by, offered to the demo shopper as menu buttons."""
    with db.new_session() as session:
        routes = session.scalars(select(EntryRoute).where(EntryRoute.shop_id == channel.shop_id)
                                 .order_by(EntryRoute.position)).all()
    return [r.when["menu"] for r in routes if isinstance(r.when.get("menu"), str)]


def build(standin: StandIn, channel: ChannelConfig, openid: str, form: dict[str, str],
          picture: bytes | None) -> tuple[dict[str, Any], Push]:
    """(what the shopper's phone shows they did, the push as WeChat posts it). ValueError names
    what is wrong."""
    wechat = registry.get(channel.kind).simulator(channel)
    kind = form.get("kind", "text")
    if kind == "text":
        text = (form.get("text") or "").strip()
        if not text or len(text) > MAX_TEXT:
            raise ValueError(f"text：请输入 1 到 {MAX_TEXT} 个字")
        return {"msgtype": "text", "text": {"content": text}}, wechat.text(openid, text)
    if kind == "image":
        if not picture or len(picture) > MAX_IMAGE or not picture.startswith(IMAGE_MAGIC):
            raise ValueError(f"image：请选择 {MAX_IMAGE // 1024 // 1024} MB 以内的 JPEG、PNG 或 GIF 图片")
        media_id = standin.keep_media(picture)
        return ({"msgtype": "image", "image": {"media_id": media_id}},
                wechat.image(openid, f"{standin.public_base}/media/{media_id}", media_id))
    key = (form.get("key") or "").strip()
    if channel.kind == "wechat_mp":  # a Mini Program's shopper taps 客服 on one of its pages
        if kind != "enter" or len(key) > 128:
            raise ValueError("kind：小程序只能发文字、图片，或从页面进入客服（场景最多 128 个字符）")
        return _event("从小程序页面进入客服", key or None), wechat.enter(openid, key)
    if kind == "click":
        if not key or len(key) > 128:
            raise ValueError("key：请填写菜单 key（1 到 128 个字符）")
        return _event("点击菜单", key), wechat.event(openid, "CLICK", key)
    if kind in ("scan", "follow"):
        if len(key) > 64 or (kind == "scan" and not key):
            raise ValueError("key：请填写二维码场景值（最多 64 个字符）")
        if kind == "scan":
            return _event("扫码", key), wechat.event(openid, "SCAN", key)
        return _event("关注公众号", key or None), wechat.event(openid, "subscribe", f"qrscene_{key}" if key else "")
    if kind == "unfollow":
        return _event("取消关注", None), wechat.event(openid, "unsubscribe")
    raise ValueError("kind：只能是 text、image、click、scan、follow、unfollow 之一")


def _event(what: str, detail: str | None) -> dict[str, Any]:
    return {"msgtype": "event", "event": {"what": what, "detail": detail}}


def post(app: Flask, channel: ChannelConfig, push: Push) -> tuple[int, str, dict[str, Any] | None]:
    """Post the push to the channel's webhook through the app's whole WSGI stack: (status, the
    answer, the passive reply as the shopper's chat shows it)."""
    kind = registry.get(channel.kind)
    args, body, content_type = push
    resp = app.test_client().post(f"/hooks/{kind.segment}/{channel.key}", query_string=args, data=body,
                                  headers={"Content-Type": content_type})
    answer = resp.get_data(as_text=True)
    if resp.status_code != 200:
        return resp.status_code, answer, None
    return 200, answer, kind.simulator(channel).reply_message(args, answer)
