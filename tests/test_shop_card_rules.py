"""Keyword rules that answer with a product or coupon card (the shop file's
`{"type": "product", "product_id": …}`): the Official Account answers with a passive news
reply of one article made of the shop's data as it is now, a retry gets the same answer and
the chat keeps the card the shopper got; a product that is gone answers with the rule's text
or lets the shopper through to an agent; bad rules are refused by the config check."""
from __future__ import annotations

import copy

import pytest

from bridge.checks import ConfigError
from bridge.shops.file import validate
from tests.factories import BASE_SHOP, load_shop, login, post_acme, shop_doc, text_xml
from tests.shop_data_kit import PRODUCTS, api_key, load

RULES = copy.deepcopy(BASE_SHOP["auto_replies"]) + [
    {"keywords": ["新品"], "reply": {"type": "product", "product_id": "p-dress"}},
    {"keywords": ["旧款"], "reply": {"type": "product", "product_id": "p-gone", "text": "这款已下架"}},
    {"keywords": ["没了"], "reply": {"type": "product", "product_id": "p-gone"}},
    {"keywords": ["领券"], "reply": {"type": "coupon", "coupon_id": "c-20"}},
]


@pytest.fixture
def carded(app, client):
    load_shop(app, shop_doc(auto_replies=RULES))
    key = api_key(app)
    load(client, key)
    return key


def test_a_card_rule_answers_with_a_news_article_of_todays_product(app, client, carded):
    push = text_xml("o-cards", "有新品吗", msg_id=777)
    body = post_acme(client, push).get_data(as_text=True)
    assert "<MsgType><![CDATA[news]]></MsgType>" in body and "<ArticleCount>1</ArticleCount>" in body
    assert "碎花连衣裙 夏季新款" in body and "https://shop.example/p/dress" in body and "¥199.00" in body
    assert post_acme(client, push).get_data(as_text=True) == body  # WeChat's retry: the same answer
    client.put("/api/v1/shop-data/products", headers=carded, json={"items": [{**PRODUCTS[0], "price": 149}]})
    assert "¥149.00" in post_acme(client, text_xml("o-cards", "新品")).get_data(as_text=True)
    alice = login(client)
    [row] = client.get("/api/v1/conversations", headers=alice).get_json()["items"]
    said = client.get(f"/api/v1/conversations/{row['id']}/messages", headers=alice).get_json()["items"]
    bot = [m for m in said if m["sender"] == "bot"]
    assert [(m["type"], m["media"]["form"], m["media"]["price"]) for m in bot] == [
        ("product", "news", "199.00"), ("product", "news", "149.00")]


def test_a_coupon_rule_and_a_product_that_is_gone(app, client, carded):
    assert "满199减20" in post_acme(client, text_xml("o-c2", "领券")).get_data(as_text=True)
    assert "这款已下架" in post_acme(client, text_xml("o-c3", "旧款")).get_data(as_text=True)
    assert post_acme(client, text_xml("o-c4", "没了")).get_data(as_text=True) == "success"  # no answer: routed


@pytest.mark.parametrize("reply, field", [
    ({"type": "product"}, "product_id"),
    ({"type": "coupon", "product_id": "p-1"}, "coupon_id"),
    ({"type": "product", "product_id": "p-1", "media_id": "m"}, "media_id"),
    ({"type": "order", "order_number": "1"}, "type"),
])
def test_a_bad_card_rule_is_a_config_error_naming_the_field(reply, field):
    doc = shop_doc(auto_replies=[{"keywords": ["x"], "reply": reply}])
    with pytest.raises(ConfigError) as caught:
        validate(doc)
    assert any(path.endswith(f"reply.{field}") for path, _ in caught.value.errors), caught.value.errors
