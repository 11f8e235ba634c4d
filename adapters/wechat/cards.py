"""A shop card (a product, coupon or order) in WeChat's words: its snapshot (the message's media,
see OutboundMessage.card) as a customer-service message body or a passive reply's article.

The form was chosen when the card was stored (contract.card_form); a form this channel does not
show, or one whose fields the card lacks, is sent as the card's text — never refused, so a card
always reaches the shopper in some shape.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bridge.channels.contract import card_form


def form_of(card: Mapping[str, Any], forms: tuple[str, ...]) -> str:
    """The card's stored form if it is one of this channel's FORMS and the card meets its needs;
    else text."""
    form = card.get("form") or "text"
    return card_form((form,), card) if form in forms else "text"


def text_of(card: Mapping[str, Any]) -> str:
    """The card's fallback text: as stored, else its title, description and URL on lines of their own."""
    if card.get("text"):
        return str(card["text"])
    return "\n".join(str(card[name]) for name in ("title", "description", "url") if card.get(name))


def article(card: Mapping[str, Any]) -> dict[str, str]:
    """One article of a news message (FACTS.md §2: the customer-service API takes one at most)."""
    return {"title": card.get("title") or "", "description": card.get("description") or "",
            "url": card.get("url") or "", "picurl": card.get("image") or ""}


def text_body(to: str, content: str) -> dict[str, Any]:
    return {"touser": to, "msgtype": "text", "text": {"content": content}}


def news_body(to: str, card: Mapping[str, Any]) -> dict[str, Any]:
    return {"touser": to, "msgtype": "news", "news": {"articles": [article(card)]}}


def link_body(to: str, card: Mapping[str, Any]) -> dict[str, Any]:
    """A Mini Program's link card: WeChat fetches the picture at thumb_url itself."""
    link = {"title": card.get("title") or "", "description": card.get("description") or "",
            "url": card.get("url") or "", "thumb_url": card.get("image") or ""}
    return {"touser": to, "msgtype": "link", "link": link}


def page_body(to: str, card: Mapping[str, Any], thumb_media_id: str) -> dict[str, Any]:
    """A page of the Mini Program itself; its thumbnail an uploaded image (no appid: it is this one)."""
    page = {"title": card.get("title") or "", "pagepath": card.get("page_path") or "",
            "thumb_media_id": thumb_media_id}
    return {"touser": to, "msgtype": "miniprogrampage", "miniprogrampage": page}


def passive_article(card: Mapping[str, Any]) -> dict[str, str]:
    """The article of a passive news reply, in wechatpy's ArticlesReply keys (image: PicUrl)."""
    sent = article(card)
    return {"title": sent["title"], "description": sent["description"], "url": sent["url"], "image": sent["picurl"]}
