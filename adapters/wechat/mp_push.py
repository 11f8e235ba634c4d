"""A Mini Program's pushes exactly as WeChat sends them (FACTS.md §3): JSON (or XML), the URL
signature, the AES envelope — for `flask simulate wechat-mp`, the demo and the tests."""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass

from adapters.wechat.envelope import Envelope, sealed_field
from adapters.wechat.push import MODES, cdata, check_given
from adapters.wechat.signature import url_signature
from bridge.channels.contract import ChannelConfig

ACCOUNT = "gh_simulator"


def mp_push(openid: str, msg_type: str, fields: dict[str, str | int], created: int | None = None,
            account: str = ACCOUNT) -> dict[str, str | int]:
    """A push's fields in WeChat's order; a message gets a MsgId, an event none."""
    push: dict[str, str | int] = {"ToUserName": account, "FromUserName": openid,
                                  "CreateTime": created or int(time.time()), "MsgType": msg_type, **fields}
    if msg_type != "event":
        push.setdefault("MsgId", secrets.randbelow(2**62))
    return push


def text_push(openid: str, text: str, **kw) -> dict[str, str | int]:
    return mp_push(openid, "text", {"Content": text}, **kw)


def enter_push(openid: str, session_from: str, **kw) -> dict[str, str | int]:
    """The shopper tapped the Mini Program's 客服 button (its session-from: the entry scene)."""
    return mp_push(openid, "event", {"Event": "user_enter_tempsession", "SessionFrom": session_from}, **kw)


def as_json(push: dict) -> str:
    return json.dumps(push, ensure_ascii=False)


def as_xml(push: dict) -> str:
    return "<xml>" + "".join(f"<{k}>{v if isinstance(v, int) else cdata(str(v))}</{k}>"
                             for k, v in push.items()) + "</xml>"


def signed(token: str, push: dict, fmt: str = "json", mode: str = "plain", aes_key: str | None = None,
           app_id: str | None = None, now: int | None = None) -> tuple[dict[str, str], bytes]:
    """(query args, body) of a push signed (and in compat and safe mode, sealed) as WeChat does,
    in FMT json or xml. The sealed plaintext is in the same format as the body."""
    ts = str(now or int(time.time()))
    nonce = str(secrets.randbelow(10**9))
    args = {"signature": url_signature(token, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": "ignored"}
    plain = as_json(push) if fmt == "json" else as_xml(push)
    if mode == "plain":
        return args, plain.encode()
    encrypt = sealed_field(Envelope(token, aes_key, app_id).seal(plain, nonce, ts), "Encrypt")
    args.update(encrypt_type="aes", msg_signature=url_signature(token, ts, nonce, encrypt))
    outer = {**push, "Encrypt": encrypt} if mode == "compat" else {"ToUserName": push["ToUserName"], "Encrypt": encrypt}
    return args, (as_json(outer) if fmt == "json" else as_xml(outer)).encode()


# What a shopper can do in a Mini Program's customer service, and the fields each takes (* required).
KINDS = {"text": ("text*", "enter"), "image": ("media_id", "pic_url"), "page": ("title*", "page_path*"),
         "enter": ("scene*",)}
FIELDS = {
    "enter": "text: tap 客服 first, from this session-from (the entry scene), then write",
    "scene": "enter: the 客服 button's session-from, as entry_routes' `scene` tests it",
    "media_id": "image: the MediaId WeChat gives the upload (default: a made-up one)",
    "pic_url": "image: the picture's URL on WeChat's servers (default: a made-up one)",
    "title": "page: the shared Mini Program page's title",
    "page_path": "page: the shared page's path, e.g. pages/item/item?id=42",
}


@dataclass(frozen=True)
class MPSimulator:
    """One Mini Program channel's pushes, for `flask simulate wechat-mp`."""

    MODES = ("auto", *MODES)
    KINDS = KINDS
    FIELDS = FIELDS
    FLAGS = {"xml": "Post XML. Default: the channel's data_format, as WeChat posts (JSON unless it says xml)."}

    channel: ChannelConfig

    def pushes(self, openid: str, kind: str, given: dict[str, str | float], mode: str = "auto",
               xml: bool = False) -> list[tuple[dict[str, str], bytes, str]]:
        """(query args, body, content type) of each push of what the shopper does; ValueError
        (field, why) for one WeChat never sends."""
        check_given(KINDS, kind, given)
        fmt = "xml" if xml else self.format
        if kind == "enter":
            return [self.sign(enter_push(openid, str(given["scene"])), fmt, mode)]
        if kind == "page":
            return [self.sign(mp_push(openid, "miniprogrampage", {
                "Title": str(given["title"]), "AppId": self.channel.settings.get("app_id") or "",
                "PagePath": str(given["page_path"]), "ThumbUrl": "", "ThumbMediaId": ""}), fmt, mode)]
        if kind == "image":
            media_id = str(given.get("media_id") or f"simulated{secrets.token_hex(8)}")
            pic = str(given.get("pic_url") or f"https://mmbiz.qpic.cn/simulated/{media_id}")
            return [self.sign(mp_push(openid, "image", {"PicUrl": pic, "MediaId": media_id}), fmt, mode)]
        first = [self.sign(enter_push(openid, str(given["enter"])), fmt, mode)] if given.get("enter") else []
        return [*first, self.sign(text_push(openid, str(given["text"])), fmt, mode)]

    def sign(self, push: dict, fmt: str, mode: str) -> tuple[dict[str, str], bytes, str]:
        s = self.channel.settings
        if mode == "auto":
            mode = s.get("mode") or ("safe" if s.get("encoding_aes_key") else "plain")
        if mode != "plain" and not s.get("encoding_aes_key"):
            raise LookupError(f"channel {self.channel.key!r} has no encoding_aes_key for {mode} mode")
        args, body = signed(s["token"], push, fmt, mode, s.get("encoding_aes_key"), s.get("app_id"))
        return args, body, "text/xml"  # as WeChat labels even its JSON

    def read_reply(self, args: dict[str, str], body: str) -> str:
        return body  # always `success`: a Mini Program has no passive reply

    def reply_message(self, args: dict[str, str], body: str) -> None:
        """What the shopper's chat shows of the webhook's answer: nothing (all comes by the API)."""
        return None

    # The demo shopper's actions (bridge/demo/pushes.py), in the channel's data_format and mode.

    def text(self, openid: str, text: str, mode: str = "auto") -> tuple[dict[str, str], bytes, str]:
        return self.sign(text_push(openid, text), self.format, mode)

    def image(self, openid: str, pic_url: str, media_id: str, mode: str = "auto") -> tuple[dict[str, str], bytes, str]:
        return self.sign(mp_push(openid, "image", {"PicUrl": pic_url, "MediaId": media_id}), self.format, mode)

    def enter(self, openid: str, session_from: str, mode: str = "auto") -> tuple[dict[str, str], bytes, str]:
        return self.sign(enter_push(openid, session_from), self.format, mode)

    @property
    def format(self) -> str:
        return self.channel.settings.get("data_format") or "json"
