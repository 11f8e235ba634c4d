"""WeChat Official Account (公众号): parse → respond passively (FACTS.md §1–2); verify and send: app.py."""
from __future__ import annotations

import secrets

from wechatpy.replies import ImageReply, TextReply

from adapters.wechat import replay, xml
from adapters.wechat.app import MAX_FETCH, MAX_IMAGE, MODES, WeChatApp  # noqa: F401  (the OA's limits and modes)
from adapters.wechat.normalize import normalize
from bridge.channels.contract import (
    SHOP_CARDS,
    HookRequest,
    HookResponse,
    InboundMessage,
    MalformedRequest,
    PayloadTooLarge,
    Reply,
    SendWindow,
    SendWindowRule,
)

MAX_BODY = 64 * 1024  # pushes are small: room for long texts and AES envelopes
SEND_TYPES = ("text", "image", *SHOP_CARDS)
CARD_FORMS = ("news", "text")  # a shop card: one article opening its page, else a text

# What a shopper's action lets the account push through the customer-service API (FACTS.md §2).
_FOLLOW_SCAN_CLICK = SendWindow(seconds=60, quota=3, resets=False)
SEND_WINDOW = SendWindowRule(
    after_message=SendWindow(seconds=48 * 3600, quota=5),
    after_events={"subscribe": _FOLLOW_SCAN_CLICK, "scan": _FOLLOW_SCAN_CLICK,
                  "click": _FOLLOW_SCAN_CLICK},
)


class WeChatOAAdapter(WeChatApp):
    # -- the webhook -------------------------------------------------------------------------

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
        plain = self._open(req, encrypt)
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
