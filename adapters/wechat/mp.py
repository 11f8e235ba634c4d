"""WeChat Mini Program (小程序) customer service: its message pushes, JSON or XML, plain,
compatible or safe (FACTS.md §3). The signature, the envelope and sending are the Official
Account's (app.py), under the Mini Program's own app id and access token.

A Mini Program has no passive reply (only transfer_customer_service, which the bridge does not
use): every push is answered `success` once stored, and everything the shopper is sent — the
robot's keyword answers, notices, agents' replies — goes through the customer-service API.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from adapters.wechat import cards, jsonbody, replay, xml
from adapters.wechat.app import SEND_PATH, WeChatApp
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
    SendRefused,
    SendWindow,
    SendWindowRule,
)

MAX_BODY = 64 * 1024
SEND_TYPES = ("text", "image", "link", "miniprogrampage", *SHOP_CARDS)
# A shop card: a page of the Mini Program (its picture the thumbnail), else a link, else a text.
CARD_FORMS = ("miniprogrampage", "link", "text")

# What a shopper's action lets the Mini Program push (FACTS.md §3): 5 messages in 48 hours after
# a message; 2 in a minute after entering the session (the 客服 button), which a message resets.
SEND_WINDOW = SendWindowRule(
    after_message=SendWindow(seconds=48 * 3600, quota=5),
    after_events={"user_enter_tempsession": SendWindow(seconds=60, quota=2, resets=False)},
)


class WeChatMPAdapter(WeChatApp):
    TYPING_PATH = "/cgi-bin/message/custom/business/typing"
    TEMPLATE_PATH = "/cgi-bin/message/subscribe/send"  # a subscribe message the shopper agreed to

    def parse(self, req: HookRequest) -> list[InboundMessage]:
        return [normalize(self.channel.key, self._fields(req))]

    def _fields(self, req: HookRequest) -> dict[str, str]:
        """The push's fields in the clear, by the channel's mode (as the OA's: plain takes the
        body as it is; safe only an Encrypt field under a valid msg_signature; compat either,
        and when the body carries Encrypt only what it decrypts to counts)."""
        body = req.body
        if len(body) > MAX_BODY:
            raise PayloadTooLarge(f"body over {MAX_BODY} bytes")
        replay.refuse_reuse(self.runtime, self.channel.key, req.args.get("signature", ""), body,
                            self.runtime.signature_max_age)
        outer = _read(body)
        if self._envelope is None:
            if req.args.get("encrypt_type") == "aes" or "Encrypt" in outer:
                raise MalformedRequest("encrypted push on a plain-mode channel")
            return outer
        encrypt = outer.get("Encrypt")
        if not encrypt:
            if self.mode == "safe":
                raise MalformedRequest("a safe-mode channel takes only encrypted pushes")
            return outer
        return _read(self._open(req, encrypt))

    def send(self, out: OutboundMessage) -> None:
        """Text and images as the OA sends them; and the Mini Program's cards: a link (title,
        description, url, thumb_url) and one of its own pages (title, pagepath, the thumbnail
        uploaded as an image: WeChat asks for about 520×416). A shop card goes in the form it
        was stored in (the delivery falls back from a page whose picture it could not fetch)."""
        card = out.card or {}
        if out.type in SHOP_CARDS:
            self.api.post_json(SEND_PATH, _shop_card_body(out, card))
        elif out.type == "link":
            link = {k: card.get(k) or "" for k in ("title", "description", "url", "thumb_url")}
            self.api.post_json(SEND_PATH, {"touser": out.to, "msgtype": "link", "link": link})
        elif out.type == "miniprogrampage":
            page = {"title": card.get("title") or "", "pagepath": card.get("page_path") or "",
                    "thumb_media_id": out.media_id or ""}
            self.api.post_json(SEND_PATH, {"touser": out.to, "msgtype": "miniprogrampage", "miniprogrampage": page})
        else:
            super().send(out)

    def respond(self, req: HookRequest, inbound: InboundMessage | None, reply: Reply | None) -> HookResponse:
        """`success`: the push is stored; what the shopper gets goes through the API."""
        return HookResponse("success")


def _shop_card_body(out: OutboundMessage, card: Mapping[str, Any]) -> dict[str, Any]:
    """A shop card's body in its stored form: a page (its thumbnail uploaded by the delivery), a
    link (WeChat fetches its picture), else the card's text."""
    form = cards.form_of(card, CARD_FORMS)
    if form == "miniprogrampage":
        if not out.media_id:  # the delivery uploads the thumbnail, or sends the card in another form
            raise SendRefused("no_thumbnail", "a Mini Program page card was handed over without its thumbnail")
        return cards.page_body(out.to, card, out.media_id)
    if form == "link":
        return cards.link_body(out.to, card)
    return cards.text_body(out.to, cards.text_of(card))


def _read(body: bytes) -> dict[str, str]:
    if jsonbody.format_of(body) == "json":
        return jsonbody.fields(body)
    xml.refuse_hostile(body)
    return xml.fields(body)
