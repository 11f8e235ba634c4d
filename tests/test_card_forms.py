"""Shop cards (product, coupon, order) on the Official Account: the form each channel picks for a
card (contract.card_form), the card sent through the customer-service API as one news article or
as its text, and a keyword's card as the passive news reply's XML — checked field by field."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from bridge.channels import registry
from bridge.channels.contract import HookRequest, OutboundMessage, Reply, card_form
from bridge.channels.runtime import adapter_for
from tests.factories import push_xml, signed
from tests.test_wechat_oa_adapter import adapter_for as oa_for_token

PRODUCT = {"kind": "product", "form": "news", "id": "42", "title": "碎花连衣裙", "description": "¥199.00",
           "price": "199.00", "image": "https://shop.example/img/42.jpg", "url": "https://shop.example/item/42",
           "page_path": "pages/item/item?id=42",
           "text": "碎花连衣裙\n¥199.00\nhttps://shop.example/item/42"}
COUPON = {"kind": "coupon", "form": "text", "id": "c-20", "title": "满199减20", "description": "2026-12-31 前有效",
          "price": None, "image": None, "url": None, "page_path": None, "text": "满199减20\n2026-12-31 前有效"}

NONE = {"url": None, "image": None, "page_path": None}
OA, MP, WIDGET = ("news", "text"), ("miniprogrampage", "link", "text"), ("card",)


@pytest.mark.parametrize("forms, has, form", [
    (OA, {"url": "u"}, "news"),
    (OA, {}, "text"),
    (OA, {"image": "i", "page_path": "p"}, "text"),  # a news article opens a URL: none, no news
    (MP, {"url": "u", "image": "i", "page_path": "p"}, "miniprogrampage"),
    (MP, {"page_path": "p"}, "text"),  # a page card needs its picture for the thumbnail
    (MP, {"image": "i", "page_path": "p"}, "miniprogrampage"),
    (MP, {"url": "u", "image": "i"}, "link"),
    (MP, {"url": "u"}, "text"),  # a link card needs its picture too
    (WIDGET, {}, "card"),
    (WIDGET, {"url": "u", "image": "i"}, "card"),
    (("link",), {"url": "u", "image": ""}, "text"),  # an empty value is no value
    (("carrier-pigeon", "news"), {"url": "u"}, "news"),  # a form nobody knows is passed over
    ((), {"url": "u"}, "text"),
])
def test_card_form_picks_the_first_form_the_card_has_what_it_needs_for(forms, has, form):
    assert card_form(forms, {"title": "t", **NONE, **has}) == form


def test_each_channel_sends_shop_cards_in_its_own_forms():
    forms = {kind: (registry.get(kind).capabilities.card_forms, registry.get(kind).capabilities.send_types)
             for kind in ("wechat_oa", "wechat_mp", "widget")}
    assert {kind: f for kind, (f, _) in forms.items()} == {"wechat_oa": OA, "wechat_mp": MP, "widget": WIDGET}
    assert all({"product", "coupon", "order"} <= set(types) for _, types in forms.values())


# -- the customer-service API ------------------------------------------------------------------------

def _oa(app, shop):
    return adapter_for(app, shop.channels["acme-oa"])


def test_a_card_is_one_news_article_opening_its_page(app, shop, fake_wechat):
    _oa(app, shop).send(OutboundMessage(to="o-news", type="product", text=PRODUCT["title"], card=PRODUCT))
    assert fake_wechat.sent("o-news") == [{"touser": "o-news", "msgtype": "news", "news": {"articles": [{
        "title": "碎花连衣裙", "description": "¥199.00", "url": "https://shop.example/item/42",
        "picurl": "https://shop.example/img/42.jpg"}]}}]


def test_a_card_without_a_page_is_its_text(app, shop, fake_wechat):
    adapter = _oa(app, shop)
    adapter.send(OutboundMessage(to="o-text", type="coupon", text=COUPON["title"], card=COUPON))
    # Stored as news, yet with no URL to open: the text, not a news article WeChat would refuse.
    adapter.send(OutboundMessage(to="o-text", type="order", card={**PRODUCT, "kind": "order", "url": None}))
    assert fake_wechat.sent("o-text") == [
        {"touser": "o-text", "msgtype": "text", "text": {"content": "满199减20\n2026-12-31 前有效"}},
        {"touser": "o-text", "msgtype": "text", "text": {"content": PRODUCT["text"]}}]


def test_a_picture_less_news_card_sends_an_empty_picurl(app, shop, fake_wechat):
    _oa(app, shop).send(OutboundMessage(to="o-bare", type="product", card={**PRODUCT, "image": None}))
    [sent] = fake_wechat.sent("o-bare")
    assert sent["news"]["articles"][0]["picurl"] == "" and sent["news"]["articles"][0]["title"] == "碎花连衣裙"


# -- the passive reply -------------------------------------------------------------------------------

def _passive(reply: Reply) -> ET.Element:
    args, data = signed("tok123", push_xml("shopper", "<MsgType>text</MsgType><Content>裙子</Content><MsgId>7</MsgId>"))
    adapter = oa_for_token("tok123")
    req = HookRequest("POST", args, data)
    [msg] = adapter.parse(req)
    return ET.fromstring(adapter.respond(req, msg, reply).body)


def test_a_keyword_card_is_a_passive_news_reply_of_one_article():
    root = _passive(Reply(type="product", text=PRODUCT["title"], card=PRODUCT))
    assert (root.findtext("ToUserName"), root.findtext("FromUserName")) == ("shopper", "gh_test")
    assert root.findtext("MsgType") == "news" and root.findtext("ArticleCount") == "1"
    [item] = root.find("Articles").findall("item")
    assert {child.tag: child.text for child in item} == {
        "Title": "碎花连衣裙", "Description": "¥199.00", "PicUrl": "https://shop.example/img/42.jpg",
        "Url": "https://shop.example/item/42"}


def test_a_passive_card_without_a_page_is_a_text_reply():
    root = _passive(Reply(type="coupon", text=COUPON["title"], card=COUPON))
    assert root.findtext("MsgType") == "text" and root.findtext("Content") == "满199减20\n2026-12-31 前有效"


def test_a_shops_text_holding_a_cdata_end_still_renders_whole():
    """wechatpy writes values into CDATA as they are: "]]>" would end it early (a broken reply)."""
    root = _passive(Reply(type="product", card={**PRODUCT, "title": "A]]><x>B", "description": "]]>"}))
    [item] = root.find("Articles").findall("item")
    assert (item.findtext("Title"), item.findtext("Description")) == ("A]]><x>B", "]]>")
    assert _passive(Reply(type="text", text="x]]>y")).findtext("Content") == "x]]>y"
