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


def message_xml(openid: str, msg_type: str, fields: dict[str, str | float], msg_id: int | None = None,
                created: int | None = None, account: str = "gh_test") -> str:
    """A message push of MSG_TYPE with these fields in this order (voice, location, link, …):
    numbers as they are, text as CDATA."""
    msg_id = msg_id if msg_id is not None else secrets.randbelow(2**62)
    inner = "".join(f"<{tag}>{value if isinstance(value, (int, float)) else cdata(value)}</{tag}>"
                    for tag, value in fields.items())
    return push_xml(openid, f"<MsgType><![CDATA[{msg_type}]]></MsgType>{inner}<MsgId>{msg_id}</MsgId>",
                    created, account)


def event_xml(openid: str, event: str, key: str = "", created: int | None = None, account: str = "gh_test",
              ticket: str = "") -> str:
    """An event push: subscribe (KEY qrscene_<scene> from a QR code), unsubscribe, SCAN (KEY the
    scene), CLICK (KEY the menu key). A QR code's pushes also carry its TICKET."""
    inner = f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[{event}]]></Event>"
    if key:
        inner += f"<EventKey>{cdata(key)}</EventKey>"
    if ticket:
        inner += f"<Ticket>{cdata(ticket)}</Ticket>"
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


# What a shopper can do on an Official Account, and the fields each takes (* required).
KINDS = {"text": ("text*",), "image": ("media_id", "pic_url"), "voice": ("media_id", "recognition"),
         "location": ("lat*", "lng*", "label"), "link": ("title*", "link_url*", "description"),
         "follow": ("scene",), "scan": ("scene*",), "click": ("menu_key*",)}
FIELDS = {  # what each field is, for `flask simulate wechat-oa --help`
    "media_id": "image, voice: the MediaId WeChat gives the upload (default: a made-up one)",
    "pic_url": "image: the picture's URL on WeChat's servers (default: a made-up one)",
    "recognition": "voice: what WeChat's speech recognition heard (default: recognition off)",
    "lat": "location: latitude, -90 to 90", "lng": "location: longitude, -180 to 180",
    "label": "location: the place's name as WeChat shows it",
    "title": "link: the shared page's title", "link_url": "link: the shared page's URL",
    "description": "link: the shared page's description",
    "scene": "follow (optional), scan: the QR code's scene, as entry_routes' `scene` tests it",
    "menu_key": "click: the menu button's key, as entry_routes' `menu` tests it",
}
MAX_SCENE = 64  # a QR code's scene_str
MAX_MENU_KEY = 128


def check_given(kinds: dict[str, tuple[str, ...]], kind: str, given: dict[str, str | float]) -> None:
    """ValueError(field, why) unless GIVEN are fields a KIND push takes (of KINDS: names, * required)."""
    if kind not in kinds:
        raise ValueError("kind", f"must be one of {', '.join(kinds)}")
    names = {name.rstrip("*") for name in kinds[kind]}
    for name, value in given.items():
        if name not in names:
            raise ValueError(name, f"is not part of a {kind} push")
        if isinstance(value, str) and not value.strip():
            raise ValueError(name, "must not be empty")
    for name in kinds[kind]:
        if name.endswith("*") and given.get(name[:-1]) is None:
            raise ValueError(name[:-1], f"is required for a {kind} push")


def shopper_push(openid: str, kind: str, given: dict[str, str | float]) -> str:
    """The push XML of what a shopper does; ValueError(field, why) for one WeChat never sends."""
    check_given(KINDS, kind, given)
    v = dict(given)
    _check_values(v)
    media_id = str(v.get("media_id") or f"simulated{secrets.token_hex(8)}")
    acct = "gh_simulator"
    if kind == "text":
        return text_xml(openid, str(v["text"]), account=acct)
    if kind == "image":
        pic_url = str(v.get("pic_url") or f"https://mmbiz.qpic.cn/simulated/{media_id}")
        return image_xml(openid, pic_url, media_id, account=acct)
    if kind == "voice":
        recognition = {"Recognition": v["recognition"]} if v.get("recognition") else {}
        return message_xml(openid, "voice", {"MediaId": media_id, "Format": "amr", **recognition}, account=acct)
    if kind == "location":
        return message_xml(openid, "location", {"Location_X": v["lat"], "Location_Y": v["lng"], "Scale": 15,
                                                "Label": v.get("label") or ""}, account=acct)
    if kind == "link":
        return message_xml(openid, "link", {"Title": v["title"], "Description": v.get("description") or "",
                                            "Url": v["link_url"]}, account=acct)
    ticket = f"simulated{secrets.token_hex(8)}"
    if kind == "click":
        return event_xml(openid, "CLICK", str(v["menu_key"]), account=acct)
    if kind == "scan":
        return event_xml(openid, "SCAN", str(v["scene"]), account=acct, ticket=ticket)
    scene = v.get("scene")
    return event_xml(openid, "subscribe", f"qrscene_{scene}" if scene else "", account=acct,
                     ticket=ticket if scene else "")


def _check_values(given: dict[str, str | float]) -> None:
    for name, lo, hi in (("lat", -90, 90), ("lng", -180, 180)):
        if name not in given:
            continue
        try:
            number = float(given[name])
        except ValueError:
            raise ValueError(name, "must be a number") from None
        if not lo <= number <= hi:
            raise ValueError(name, f"must be between {lo} and {hi}")
        given[name] = number
    url = str(given.get("link_url", "https://"))
    if not url.startswith(("http://", "https://")):
        raise ValueError("link_url", "must start with http:// or https://")
    if len(str(given.get("scene", ""))) > MAX_SCENE:
        raise ValueError("scene", f"must be at most {MAX_SCENE} characters")
    if len(str(given.get("menu_key", "")).encode()) > MAX_MENU_KEY:
        raise ValueError("menu_key", f"must be at most {MAX_MENU_KEY} bytes")


@dataclass(frozen=True)
class OASimulator:
    """One Official Account channel's pushes, for `flask simulate wechat-oa`."""

    MODES = ("auto", *MODES)
    KINDS = KINDS
    FIELDS = FIELDS

    channel: ChannelConfig

    def text(self, openid: str, text: str, mode: str = "auto") -> tuple[dict[str, str], bytes, str]:
        """(query args, body, content type) of a text push; mode auto | plain | compat | safe."""
        return self.sign(text_xml(openid, text, account="gh_simulator"), mode)

    def image(self, openid: str, pic_url: str, media_id: str, mode: str = "auto") -> tuple[dict[str, str], bytes, str]:
        return self.sign(image_xml(openid, pic_url, media_id, account="gh_simulator"), mode)

    def event(self, openid: str, event: str, key: str = "", mode: str = "auto") -> tuple[dict[str, str], bytes, str]:
        """subscribe (KEY qrscene_<scene> from a QR code), unsubscribe, SCAN, CLICK (KEY the menu key)."""
        return self.sign(event_xml(openid, event, key, account="gh_simulator"), mode)

    def push(self, openid: str, kind: str, given: dict[str, str | float], mode: str = "auto") -> tuple[dict[str, str], bytes, str]:
        """The push of what a shopper does (a kind of KINDS, with the fields it takes); ValueError
        (field, why) when WeChat would never send it. Nothing left out is made up but ids."""
        return self.sign(shopper_push(openid, kind, given), mode)

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
