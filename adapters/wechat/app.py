"""What every WeChat app channel (Official Account, Mini Program) does alike: the URL
signature, GET verification, the AES envelope of compat and safe mode, and the customer-service
API under the app's own access token — send, upload an image, fetch a shopper's media.

Each channel's module adds how its pushes are read and answered (oa.py, mp.py).
"""
from __future__ import annotations

from functools import cached_property

from adapters.wechat import media, signature
from adapters.wechat.api import WeChatAPI
from adapters.wechat.envelope import Envelope
from bridge.channels.contract import (
    ChannelConfig,
    ChannelRuntime,
    FetchedMedia,
    HookRequest,
    HookResponse,
    InvalidSignature,
    OutboundMessage,
)

MODES = ("plain", "compat", "safe")
MAX_IMAGE = 10 * 1024 * 1024  # a temporary image upload
MAX_FETCH = 10 * 1024 * 1024  # a shopper's file: WeChat's largest temporary media (a video) is 10 MB
SEND_PATH = "/cgi-bin/message/custom/send"
UPLOAD_PATH = "/cgi-bin/media/upload"


def mode_of(settings) -> str:
    """The channel's message mode: as stated, else safe when it has an EncodingAESKey."""
    return settings.get("mode") or ("safe" if settings.get("encoding_aes_key") else "plain")


class WeChatApp:
    TYPING_PATH = "/cgi-bin/message/custom/typing"  # the Official Account's (the Mini Program: mp.py)
    TEMPLATE_PATH = "/cgi-bin/message/template/send"  # its template messages (the Mini Program's subscribe)

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
        """GET verification: echostr back verbatim."""
        return HookResponse(req.args.get("echostr", ""))

    def _open(self, req: HookRequest, encrypt: str) -> bytes:
        """The plaintext of an Encrypt field, only under a valid msg_signature (checked in
        constant time before any decryption) and for this app id."""
        if not req.args.get("msg_signature"):
            raise InvalidSignature("encrypted push without msg_signature")
        signature.check_msg(req.args, self.token, encrypt)
        return self._envelope.open(encrypt, req.args["msg_signature"], req.args["timestamp"], req.args["nonce"])

    # -- sending -----------------------------------------------------------------------------

    @cached_property
    def api(self) -> WeChatAPI:
        s = self.channel.settings
        return WeChatAPI.for_app(s.get("app_id") or "", s.get("app_secret") or "", self.runtime)

    def send(self, out: OutboundMessage) -> None:
        if out.type == "template":  # an outreach notice outside the window (TEMPLATE_PATH: the app's own kind)
            self.api.post_json(self.TEMPLATE_PATH, template_body(out.to, out.card or {}))
            return
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

    def typing(self, to: str, on: bool) -> None:
        """WeChat's "正在输入" for the shopper (Typing), or its end (CancelTyping)."""
        self.api.post_json(self.TYPING_PATH, {"touser": to, "command": "Typing" if on else "CancelTyping"})


def template_body(to: str, notice: dict) -> dict:
    """An OA template message or a Mini Program subscribe message (FACTS.md §2): the template,
    where it opens (an OA's url, a Mini Program's page) and its fields, each {"value"}."""
    body = {"touser": to, "template_id": notice.get("template_id") or "",
            "data": {name: {"value": value} for name, value in (notice.get("data") or {}).items()}}
    for where in ("url", "page"):
        if notice.get(where):
            body[where] = notice[where]
    return body
