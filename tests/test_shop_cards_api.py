"""An agent sends a product, coupon or order card (DESIGN.md, Shop data API): stored as a
snapshot of what the shopper is shown, in the form the channel shows it (the OA: a news
article, or text when the product has no page), sent once per client_id; an expired coupon,
another shopper's order and another shop's product are refused and store nothing."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bridge.infra import db
from bridge.models import Message
from tests.factories import login, post_acme, text_xml
from tests.shop_data_kit import PRODUCTS, api_key, load, order
from tests.test_delivery import run_jobs


@pytest.fixture
def chat(app, client, shop):
    key = api_key(app)
    load(client, key, [order("N-1"), order("N-theirs", openid="o-someone-else")])
    alice = login(client)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})
    post_acme(client, text_xml("o-buyer", "有连衣裙吗"))
    run_jobs(app)
    [row] = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
    return alice, row["id"], key


def _count(app) -> int:
    with db.new_session(app) as session:
        return session.scalar(select(func.count()).select_from(Message).where(Message.direction == "out",
                                                                               Message.sender == "agent"))


def test_a_product_card_is_a_snapshot_in_the_form_the_official_account_shows(app, client, chat):
    alice, cid, key = chat
    url = f"/api/v1/conversations/{cid}/messages"
    resp = client.post(url, headers=alice, json={"type": "product", "product_id": "p-dress", "client_id": "c-1"})
    assert resp.status_code == 201, resp.get_json()
    card = resp.get_json()
    assert (card["type"], card["text"]) == ("product", "碎花连衣裙 夏季新款")
    assert card["media"] == {
        "kind": "product", "form": "news", "id": "p-dress", "title": "碎花连衣裙 夏季新款", "description": "¥199.00",
        "image": "https://shop.example/dress.png", "url": "https://shop.example/p/dress",
        "page_path": "pages/item/item?id=dress", "price": "199.00",
        "text": "碎花连衣裙 夏季新款\n¥199.00\nhttps://shop.example/p/dress"}
    # Once per client_id; another product under the same id is a conflict.
    assert client.post(url, headers=alice, json={"type": "product", "product_id": "p-dress", "client_id": "c-1"}
                       ).get_json()["id"] == card["id"]
    assert client.post(url, headers=alice, json={"type": "product", "product_id": "p-shirt", "client_id": "c-1"}
                       ).status_code == 409
    # A product without a page: the OA sends it as text. The snapshot keeps what was sent when
    # the shop later renames it.
    skirt = client.post(url, headers=alice, json={"type": "product", "product_id": "p-skirt"}).get_json()
    assert skirt["media"]["form"] == "text" and skirt["media"]["text"] == "百褶半身裙\n¥89.50"
    client.put("/api/v1/shop-data/products", headers=key, json={"items": [{**PRODUCTS[0], "title": "改名了"}]})
    [stored] = [m for m in client.get(url, headers=alice).get_json()["items"] if m["id"] == card["id"]]
    assert stored["media"]["title"] == "碎花连衣裙 夏季新款"


def test_coupon_and_order_cards(app, client, chat):
    alice, cid, _ = chat
    url = f"/api/v1/conversations/{cid}/messages"
    coupon = client.post(url, headers=alice, json={"type": "coupon", "coupon_id": "c-20"}).get_json()
    assert coupon["media"]["kind"] == "coupon" and coupon["media"]["form"] == "news"
    said = coupon["media"]["description"]
    assert said.startswith("¥20 · 满199可用 · ") and said.endswith("前有效")
    mine = client.post(url, headers=alice, json={"type": "order", "order_number": "N-1"})
    assert mine.status_code == 201
    media = mine.get_json()["media"]
    assert media["title"] == "订单 N-1：碎花连衣裙 夏季新款 等3件"
    assert media["description"] == "已发货 · 顺丰 SF100 · ¥527.00" and media["form"] == "text"  # no page of its own


@pytest.mark.parametrize("body, status", [
    ({"type": "coupon", "coupon_id": "c-old"}, 409),  # expired
    ({"type": "order", "order_number": "N-theirs"}, 404),  # another shopper's order
    ({"type": "product", "product_id": "no-such"}, 404),
    ({"type": "product"}, 422),
    ({"type": "product", "product_id": "p-dress", "title": "forged"}, 422),
    ({"type": "product", "product_id": ["p-dress"]}, 422),
])
def test_a_card_that_cannot_be_sent_is_refused_and_stores_nothing(app, client, chat, body, status):
    alice, cid, _ = chat
    before = _count(app)
    resp = client.post(f"/api/v1/conversations/{cid}/messages", headers=alice, json=body)
    assert resp.status_code == status, resp.get_json()
    assert _count(app) == before


def test_another_shops_product_is_not_found(app, client, chat):
    alice, cid, _ = chat
    other = api_key(app, "other")
    client.put("/api/v1/shop-data/products", headers=other, json={"items": [{**PRODUCTS[0], "id": "p-theirs"}]})
    resp = client.post(f"/api/v1/conversations/{cid}/messages", headers=alice,
                       json={"type": "product", "product_id": "p-theirs"})
    assert resp.status_code == 404


def test_the_shoppers_orders_newest_first_with_their_items_named(app, client, chat):
    alice, cid, key = chat
    client.put("/api/v1/shop-data/orders", headers=key, json={"items": [order("N-0", days=9, state="completed")]})
    orders = client.get(f"/api/v1/conversations/{cid}/orders", headers=alice).get_json()["items"]
    assert [o["number"] for o in orders] == ["N-1", "N-0"]
    assert orders[0]["items"][0] == {"product_id": "p-dress", "title": "碎花连衣裙 夏季新款",
                                     "image": "https://shop.example/dress.png", "quantity": 2, "price": "199.00"}
    assert (orders[0]["state_text"], orders[0]["amount"], orders[0]["logistics"]) == (
        "已发货", "527.00", {"company": "顺丰", "tracking_number": "SF100"})


def test_the_panel_in_one_call_is_the_four_lists(app, client, chat):
    alice, cid, _ = chat
    panel = client.get(f"/api/v1/conversations/{cid}/shop-panel", headers=alice).get_json()
    assert panel["orders"] == client.get(f"/api/v1/conversations/{cid}/orders", headers=alice).get_json()["items"]
    assert panel["viewed"] == client.get(f"/api/v1/conversations/{cid}/viewed", headers=alice).get_json()["items"]
    assert panel["hot"] == client.get("/api/v1/products/hot", headers=alice).get_json()["items"]
    assert panel["coupons"] == client.get("/api/v1/coupons", headers=alice).get_json()["items"]
    assert [o["number"] for o in panel["orders"]] == ["N-1"] and [c["id"] for c in panel["coupons"]] == ["c-20"]
    assert client.get(f"/api/v1/conversations/{cid}/shop-panel", headers=login(client, "mallory", shop="other")
                      ).status_code == 404

