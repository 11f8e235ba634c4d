"""WeChat Official Account (公众号): verify → parse → reply passively → send (FACTS.md §1–2)."""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Callable
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from wechatpy.crypto import WeChatCrypto
from wechatpy.replies import ImageReply, TextReply

from adapters.errors import InvalidSignature, MalformedRequest, PayloadTooLarge
from adapters.wechat_api import WeChatAPI
from bridge.messaging import (
    ChannelConfig,
    HookRequest,
    HookResponse,
    InboundMessage,
    OutboundMessage,
    Reply,
    SendWindow,
)

MAX_BODY = 64 * 1024
DEFAULT_MAX_AGE = 300
# WeChat never sends DTDs, entities, comments or processing instructions beyond the
# declaration: anything starting "<!" other than CDATA is refused before parsing.
_HOSTILE = re.compile(rb"<!(?!\[CDATA\[)")

MESSAGE_WINDOW = SendWindow(seconds=48 * 3600, quota=5)
EVENT_WINDOW = SendWindow(seconds=60, quota=3, resets=False)  # follow, scan, menu click
_EVENT_WINDOW_EVENTS = {"subscribe", "scan", "click"}


def url_signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, *extra])).encode()).hexdigest()


class WeChatOAAdapter:
    kind = "wechat_oa"
    send_path = "/cgi-bin/message/custom/send"

    def __init__(self, channel: ChannelConfig, clock: Callable[[], float] = time.time,
                 max_age: int = DEFAULT_MAX_AGE):
        self.channel = channel
        self.clock = clock
        self.max_age = max_age
        self._crypto = (
            WeChatCrypto(channel.token, channel.encoding_aes_key, channel.app_id)
            if channel.encoding_aes_key
            else None
        )

    # -- verify --------------------------------------------------------------------------

    def verify(self, req: HookRequest) -> None:
        """The URL signature, in constant time, inside the timestamp window; before any parsing."""
        signature = req.args.get("signature", "")
        timestamp = req.args.get("timestamp", "")
        nonce = req.args.get("nonce", "")
        if not (signature and timestamp and nonce):
            raise InvalidSignature("signature, timestamp and nonce are required")
        if not timestamp.isdigit() or abs(self.clock() - int(timestamp)) > self.max_age:
            raise InvalidSignature("timestamp outside the accepted window")
        expected = url_signature(self.channel.token or "", timestamp, nonce)
        if not hmac.compare_digest(expected, signature.lower()):
            raise InvalidSignature("signature does not match")

    def echo(self, req: HookRequest) -> HookResponse:
        """GET verification: echostr back verbatim (never encrypted on an OA)."""
        return HookResponse(req.args.get("echostr", ""))

    # -- parse ---------------------------------------------------------------------------

    def parse(self, req: HookRequest) -> list[InboundMessage]:
        fields = self._fields(self._decrypted_body(req))
        return [normalize(self.channel.key, fields)]

    def _decrypted_body(self, req: HookRequest) -> bytes:
        body = req.body
        if len(body) > MAX_BODY:
            raise PayloadTooLarge(f"body over {MAX_BODY} bytes")
        if _HOSTILE.search(body):
            raise MalformedRequest("DTDs, entities and comments are not accepted")
        if req.args.get("encrypt_type", "raw") != "aes":
            return body
        if self._crypto is None:
            raise MalformedRequest("encrypted push on a channel with no EncodingAESKey")
        envelope = self._fields(body)
        encrypt = envelope.get("Encrypt")
        msg_signature = req.args.get("msg_signature", "")
        if not encrypt or not msg_signature:
            raise MalformedRequest("encrypted push without Encrypt or msg_signature")
        timestamp, nonce = req.args["timestamp"], req.args["nonce"]
        expected = url_signature(self.channel.token or "", timestamp, nonce, encrypt)
        if not hmac.compare_digest(expected, msg_signature.lower()):
            raise InvalidSignature("msg_signature does not match")
        try:
            plain = self._crypto.decrypt_message(
                {"Encrypt": encrypt}, msg_signature, timestamp, nonce
            )
        except Exception as exc:  # wechatpy raises several types for corrupt ciphertext
            if type(exc).__name__ == "InvalidAppIdException":
                raise InvalidSignature("message is for another app id") from exc
            raise MalformedRequest("body could not be decrypted") from exc
        plain_bytes = plain.encode() if isinstance(plain, str) else plain
        if _HOSTILE.search(plain_bytes):
            raise MalformedRequest("DTDs, entities and comments are not accepted")
        return plain_bytes

    @staticmethod
    def _fields(body: bytes) -> dict[str, str]:
        try:
            root: Element = SafeET.fromstring(body, forbid_dtd=True)
        except Exception as exc:
            raise MalformedRequest("body is not well-formed XML") from exc
        if root.tag != "xml":
            raise MalformedRequest("root element is not <xml>")
        return {child.tag: (child.text or "").strip() for child in root}

    # -- answer ----------------------------------------------------------------------------

    def reply_passive(self, req: HookRequest, inbound: InboundMessage, reply: Reply | None) -> HookResponse:
        if reply is None:
            return HookResponse("success")
        common = {"source": inbound.account_id or "", "target": inbound.user_id,
                  "time": int(self.clock())}
        if reply.type == "image":
            xml = ImageReply(media_id=reply.media_id, **common).render()
        else:
            xml = TextReply(content=reply.text or "", **common).render()
        if req.args.get("encrypt_type") == "aes" and self._crypto is not None:
            xml = self._crypto.encrypt_message(xml, secrets.token_hex(8), str(int(self.clock())))
        return HookResponse(xml, content_type="application/xml; charset=utf-8")

    @staticmethod
    def send_window(inbound: InboundMessage) -> SendWindow | None:
        """What the shopper's action lets us push through the customer-service API."""
        if inbound.kind == "event":
            return EVENT_WINDOW if inbound.event in _EVENT_WINDOW_EVENTS else None
        return MESSAGE_WINDOW

    # -- send ------------------------------------------------------------------------------

    def send(self, api: WeChatAPI, out: OutboundMessage) -> dict[str, Any]:
        if out.type == "image":
            payload = {"touser": out.to, "msgtype": "image", "image": {"media_id": out.media_id}}
        else:
            payload = {"touser": out.to, "msgtype": "text", "text": {"content": out.text or ""}}
        return api.post_json(self.send_path, payload)

    @staticmethod
    def upload_image(api: WeChatAPI, filename: str, content: bytes, content_type: str) -> str:
        """A temporary media upload (valid 3 days); returns the media_id."""
        body = api.upload("/cgi-bin/media/upload", {"type": "image"},
                          {"media": (filename, content, content_type)})
        return str(body["media_id"])


# -- normalization ---------------------------------------------------------------------------

_MEDIA_FIELDS = {
    "image": {"media_id": "MediaId", "pic_url": "PicUrl"},
    "voice": {"media_id": "MediaId", "format": "Format", "recognition": "Recognition"},
    "video": {"media_id": "MediaId", "thumb_media_id": "ThumbMediaId"},
    "shortvideo": {"media_id": "MediaId", "thumb_media_id": "ThumbMediaId"},
    "location": {"x": "Location_X", "y": "Location_Y", "scale": "Scale", "label": "Label"},
    "link": {"title": "Title", "description": "Description", "url": "Url"},
}
_TEXT_FIELD = {"text": "Content", "voice": "Recognition", "location": "Label", "link": "Title"}


def normalize(channel_key: str, f: dict[str, str]) -> InboundMessage:
    """An OA push's fields → the one normalized message. Unknown types stay, as unknown."""
    msg_type = f.get("MsgType", "").lower()
    user = f.get("FromUserName", "")
    created = f.get("CreateTime", "")
    if not user or not created.isdigit():
        raise MalformedRequest("push without FromUserName or CreateTime")
    common = {"channel_key": channel_key, "user_id": user, "created_at": int(created),
              "account_id": f.get("ToUserName"), "raw": f}
    if msg_type == "event":
        event = f.get("Event", "").lower()
        key = f.get("EventKey") or None
        if event == "subscribe" and key and key.startswith("qrscene_"):
            key = key[len("qrscene_"):]
        media = None
        if event == "location":
            media = {"latitude": f.get("Latitude"), "longitude": f.get("Longitude"),
                     "precision": f.get("Precision")}
        return InboundMessage(external_id=f"ev:{user}:{created}:{event}", kind="event",
                              event=event, event_key=key, media=media, **common)
    msg_id = f.get("MsgId") or f"{user}:{created}"
    kind = msg_type if msg_type in _MEDIA_FIELDS or msg_type == "text" else "unknown"
    media = None
    if kind in _MEDIA_FIELDS:
        media = {name: f[tag] for name, tag in _MEDIA_FIELDS[kind].items() if tag in f}
    text = f.get(_TEXT_FIELD.get(kind, ""), None) or None
    return InboundMessage(external_id=msg_id, kind=kind, text=text, media=media, **common)
