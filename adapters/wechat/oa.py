"""WeChat Official Account (公众号): verify → parse → respond passively → send (FACTS.md §1–2)."""
from __future__ import annotations

import secrets
from functools import cached_property

from wechatpy.replies import ImageReply, TextReply

from adapters.wechat import media, replay, signature, xml
from adapters.wechat.api import WeChatAPI
from adapters.wechat.envelope import Envelope
from adapters.wechat.normalize import normalize
from bridge.channels.contract import (
    ChannelConfig,
    ChannelRuntime,
    FetchedMedia,
    HookRequest,
    HookResponse,
    InboundMessage,
    InvalidSignature,
    MalformedRequest,
    OutboundMessage,
    PayloadTooLarge,
    Reply,
    SendWindow,
    SendWindowRule,
)

MAX_BODY = 64 * 1024  # pushes are small: room for long texts and AES envelopes
MAX_IMAGE = 10 * 1024 * 1024  # a temporary image upload
MAX_FETCH = 10 * 1024 * 1024  # a shopper's file: WeChat's largest temporary media (a video) is 10 MB
SEND_PATH = "/cgi-bin/message/custom/send"
UPLOAD_PATH = "/cgi-bin/media/upload"

# What a shopper's action lets the account push through the customer-service API (FACTS.md §2).
_FOLLOW_SCAN_CLICK = SendWindow(seconds=60, quota=3, resets=False)
SEND_WINDOW = SendWindowRule(
    after_message=SendWindow(seconds=48 * 3600, quota=5),
    after_events={"subscribe": _FOLLOW_SCAN_CLICK, "scan": _FOLLOW_SCAN_CLICK,
                  "click": _FOLLOW_SCAN_CLICK},
)


MODES = ("plain", "compat", "safe")


def mode_of(settings) -> str:
    """The channel's message mode: as stated, else safe when it has an EncodingAESKey."""
    return settings.get("mode") or ("safe" if settings.get("encoding_aes_key") else "plain")


class WeChatOAAdapter:
    def __init__(self, channel: ChannelConfig, runtime: ChannelRuntime):
        self.channel = channel
        self.runtime = runtime
        self.token = channel.settings.get("token") or ""
        aes_key = channel.settings.get("encoding_aes_key")
        self.mode = mode_of(channel.settings)
        self._envelope = (Envelope(self.token, aes_key, channel.settings.get("app_id") or "")
                          if aes_key and self.mode != "plain" else None)

    # -- the webhook -------------------------------------------------------------------------

    def verify(self, req: HookRequest) -> None:
        signature.check_url(req.args, self.token, self.runtime.clock(), self.runtime.signature_max_age)

    def echo(self, req: HookRequest) -> HookResponse:
        """GET verification: echostr back verbatim (never encrypted on an OA)."""
        return HookResponse(req.args.get("echostr", ""))

    def parse(self, req: HookRequest) -> list[InboundMessage]:
        return [normalize(self.channel.key, xml.fields(self._plain_body(req)))]

    def _plain_body(self, req: HookRequest) -> bytes:
        """The push as XML in the clear, by the channel's mode: plain takes the body as it is;
        safe takes only an Encrypt field under a valid msg_signature; compat takes either, and
        when the body carries Encrypt, only what it decrypts to counts."""
        body = req.body
        if len(body) > MAX_BODY:
            raise PayloadTooLarge(f"body over {MAX_BODY} bytes")
        xml.refuse_hostile(body)
        replay.refuse_reuse(self.runtime, self.channel.key, req.args.get("signature", ""), body,
                            self.runtime.signature_max_age)
        if self._envelope is None:
            if req.args.get("encrypt_type") == "aes":
                raise MalformedRequest("encrypted push on a plain-mode channel")
            return body
        encrypt = xml.fields(body).get("Encrypt")
        if not encrypt:
            if self.mode == "safe":
                raise MalformedRequest("a safe-mode channel takes only encrypted pushes")
            return body
        if not req.args.get("msg_signature"):
            raise InvalidSignature("encrypted push without msg_signature")
        signature.check_msg(req.args, self.token, encrypt)
        plain = self._envelope.open(encrypt, req.args["msg_signature"], req.args["timestamp"],
                                    req.args["nonce"])
        xml.refuse_hostile(plain)
        return plain

    def respond(self, req: HookRequest, inbound: InboundMessage | None, reply: Reply | None) -> HookResponse:
        """The passive reply (encrypted when the push was), or `success`."""
        if inbound is None or reply is None:
            return HookResponse("success")
        now = int(self.runtime.clock())
        common = {"source": inbound.account_id or "", "target": inbound.user_id, "time": now}
        if reply.type == "image":
            body = ImageReply(media_id=reply.media_id, **common).render()
        else:
            body = TextReply(content=reply.text or "", **common).render()
        if req.args.get("encrypt_type") == "aes" and self._envelope is not None:
            body = self._envelope.seal(body, secrets.token_hex(8), str(now))
        return HookResponse(body, content_type="application/xml; charset=utf-8")

    # -- sending -----------------------------------------------------------------------------

    @cached_property
    def api(self) -> WeChatAPI:
        s = self.channel.settings
        return WeChatAPI.for_app(s.get("app_id") or "", s.get("app_secret") or "", self.runtime)

    def send(self, out: OutboundMessage) -> None:
        if out.type == "image":
            payload = {"touser": out.to, "msgtype": "image", "image": {"media_id": out.media_id}}
        else:
            payload = {"touser": out.to, "msgtype": "text", "text": {"content": out.text or ""}}
        self.api.post_json(SEND_PATH, payload)

    def upload_image(self, filename: str, content: bytes, content_type: str) -> str:
        """A temporary media upload (valid 3 days); returns the media_id."""
        body = self.api.upload(UPLOAD_PATH, {"type": "image"}, {"media": (filename, content, content_type)})
        return str(body["media_id"])

    def fetch_media(self, media_id: str, max_bytes: int) -> FetchedMedia:
        """A shopper's image, voice or video by the push's MediaId (valid 3 days)."""
        return media.fetch(self.api, media_id, max_bytes)
