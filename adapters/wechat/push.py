"""Pushes exactly as WeChat sends them: the XML, the URL signature, the AES envelope.

For whoever must play WeChat's part: `flask simulate`, the demo and the tests.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from defusedxml import ElementTree as SafeET

from adapters.wechat.envelope import Envelope, sealed_field
from adapters.wechat.signature import url_signature
from adapters.wechat.xml import fields
from bridge.channels.contract import ChannelConfig, MalformedRequest

MODES = ("plain", "compat", "safe")


def cdata(value: str) -> str:
    """VALUE as a CDATA section, whatever it holds (a "]]>" inside is split across two)."""
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def push_xml(openid: str, inner: str, created: int | None = None, account: str = "gh_test") -> str:
    return (f"<xml><ToUserName><![CDATA[{account}]]></ToUserName>"
            f"<FromUserName>{cdata(openid)}</FromUserName>"
            f"<CreateTime>{created or int(time.time())}</CreateTime>{inner}</xml>")


def text_xml(openid: str, content: str, msg_id: int | None = None, created: int | None = None,
             account: str = "gh_test") -> str:
    msg_id = msg_id if msg_id is not None else secrets.randbelow(2**62)
    return push_xml(openid, f"<MsgType><![CDATA[text]]></MsgType><Content>{cdata(content)}</Content>"
                            f"<MsgId>{msg_id}</MsgId>", created, account)


def image_xml(openid: str, pic_url: str, media_id: str, msg_id: int | None = None,
              created: int | None = None, account: str = "gh_test") -> str:
    msg_id = msg_id if msg_id is not None else secrets.randbelow(2**62)
    return push_xml(openid, f"<MsgType><![CDATA[image]]></MsgType><PicUrl>{cdata(pic_url)}</PicUrl>"
                            f"<MediaId><![CDATA[{media_id}]]></MediaId><MsgId>{msg_id}</MsgId>", created, account)


def event_xml(openid: str, event: str, key: str = "", created: int | None = None, account: str = "gh_test") -> str:
    """An event push: subscribe (KEY qrscene_<scene> from a QR code), unsubscribe, SCAN (KEY the
    scene), CLICK (KEY the menu key)."""
    inner = f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
    if key:
        inner += f"<EventKey>{cdata(key)}</EventKey>"
    return push_xml(openid, inner, created, account)


def signed(token: str, body: str | bytes, mode: str = "plain", aes_key: str | None = None,
           app_id: str | None = None, now: int | None = None) -> tuple[dict[str, str], bytes]:
    """(query args, body) of a push signed (and for compat/safe, encrypted) as WeChat does."""
    ts = str(now or int(time.time()))
    nonce = str(secrets.randbelow(10**9))
    args = {"signature": url_signature(token, ts, nonce), "timestamp": ts, "nonce": nonce,
            "openid": "ignored"}
    plain = body if isinstance(body, str) else body.decode()
    if mode == "plain":
        return args, plain.encode()
    encrypt = sealed_field(Envelope(token, aes_key, app_id).seal(plain, nonce, ts), "Encrypt")
    args.update(encrypt_type="aes", msg_signature=url_signature(token, ts, nonce, encrypt))
    if mode == "compat":
        return args, plain.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>").encode()
    return args, (f"<xml><ToUserName><![CDATA[gh_test]]></ToUserName>"
                  f"<Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>").encode()


def open_reply(token: str, aes_key: str | None, app_id: str | None, args: dict[str, str], body: str) -> str:
    """A passive reply as the shopper's WeChat reads it: decrypted when it was sealed."""
    if args.get("encrypt_type") != "aes" or "<Encrypt>" not in body:
        return body
    plain = Envelope(token, aes_key, app_id).open(*(sealed_field(body, tag) for tag in (
        "Encrypt", "MsgSignature", "TimeStamp", "Nonce")))
    return plain.decode()


@dataclass(frozen=True)
class OASimulator:
    """One Official Account channel's pushes, for `flask simulate wechat-oa`."""

    MODES = ("auto", *MODES)

    channel: ChannelConfig

    def text(self, openid: str, text: str, mode: str = "auto") -> tuple[dict[str, str], bytes, str]:
        """(query args, body, content type) of a text push; mode auto | plain | compat | safe."""
        return self.sign(text_xml(openid, text, account="gh_simulator"), mode)

    def image(self, openid: str, pic_url: str, media_id: str, mode: str = "auto") -> tuple[dict[str, str], bytes, str]:
        return self.sign(image_xml(openid, pic_url, media_id, account="gh_simulator"), mode)

    def event(self, openid: str, event: str, key: str = "", mode: str = "auto") -> tuple[dict[str, str], bytes, str]:
        """subscribe (KEY qrscene_<scene> from a QR code), unsubscribe, SCAN, CLICK (KEY the menu key)."""
        return self.sign(event_xml(openid, event, key, account="gh_simulator"), mode)

    def sign(self, xml: str, mode: str = "auto") -> tuple[dict[str, str], bytes, str]:
        """(query args, body, content type) of the push XML as WeChat posts it: signed, and
        sealed in compat and safe mode (auto: safe when the channel has an AES key)."""
        s = self.channel.settings
        if mode == "auto":
            mode = s.get("mode") or ("safe" if s.get("encoding_aes_key") else "plain")
        if mode != "plain" and not s.get("encoding_aes_key"):
            raise LookupError(f"channel {self.channel.key!r} has no encoding_aes_key for {mode} mode")
        args, body = signed(s["token"], xml, mode, s.get("encoding_aes_key"), s.get("app_id"))
        return args, body, "text/xml"

    def read_reply(self, args: dict[str, str], body: str) -> str:
        s = self.channel.settings
        return open_reply(s["token"], s.get("encoding_aes_key"), s.get("app_id"), args, body)

    def reply_message(self, args: dict[str, str], body: str) -> dict | None:
        """The passive reply as the shopper's chat shows it, in the shape of a customer-service
        message ({"msgtype": "text", "text": {"content": …}}); None for `success` or nothing."""
        plain = self.read_reply(args, body).strip()
        if not plain or plain == "success":
            return None
        try:
            f = fields(plain.encode())
        except MalformedRequest:
            return {"msgtype": "text", "text": {"content": plain}}
        if f.get("MsgType") == "image":
            root = SafeET.fromstring(plain.encode(), forbid_dtd=True)
            return {"msgtype": "image", "image": {"media_id": root.findtext("Image/MediaId", "")}}
        return {"msgtype": "text", "text": {"content": f.get("Content", "")}}
