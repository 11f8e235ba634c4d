"""WeChat Official Account (公众号): parse → respond passively (FACTS.md §1–2); verify and send: app.py."""
from __future__ import annotations

import secrets

from wechatpy.replies import ArticlesReply, ImageReply, TextReply

from adapters.wechat import cards, replay, xml
from adapters.wechat.app import MAX_FETCH, MAX_IMAGE, MODES, SEND_PATH, WeChatApp  # noqa: F401  (limits, modes)
from adapters.wechat.normalize import normalize
from bridge.channels.contract import (
    SHOP_CARDS,
    HookRequest,
    HookResponse,
    InboundMessage,
    MalformedRequest,
    OutboundMessage,
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
        body = _passive(reply, common).render()
        if req.args.get("encrypt_type") == "aes" and self._envelope is not None:
            body = self._envelope.seal(body, secrets.token_hex(8), str(now))
        return HookResponse(body, content_type="application/xml; charset=utf-8")

    # -- sending -----------------------------------------------------------------------------

    def send(self, out: OutboundMessage) -> None:
        """Text and images as every WeChat app sends them; a shop card as one news article
        opening its page (its picture the article's), else as its text."""
        if out.type not in SHOP_CARDS:
            return super().send(out)
        card = out.card or {}
        if cards.form_of(card, CARD_FORMS) == "news":
            self.api.post_json(SEND_PATH, cards.news_body(out.to, card))
        else:
            self.api.post_json(SEND_PATH, cards.text_body(out.to, cards.text_of(card)))


def _passive(reply: Reply, common: dict):
    """REPLY as wechatpy's reply object; every text in it safe inside the CDATA wechatpy wraps it in."""
    if reply.type == "image":
        return ImageReply(media_id=reply.media_id, **common)
    if reply.type in SHOP_CARDS and reply.card is not None:
        if cards.form_of(reply.card, CARD_FORMS) == "news":
            article = {name: _in_cdata(value) for name, value in cards.passive_article(reply.card).items()}
            return ArticlesReply(articles=[article], **common)
        return TextReply(content=_in_cdata(cards.text_of(reply.card)), **common)
    return TextReply(content=_in_cdata(reply.text or ""), **common)


def _in_cdata(value: str) -> str:
    """VALUE for a CDATA section: wechatpy writes it in as it is, so a "]]>" in a shop's text
    would end the section early and break the reply; split across two sections, it reads back whole."""
    return value.replace("]]>", "]]]]><![CDATA[>")
