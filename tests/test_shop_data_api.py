"""The shop-data API (DESIGN.md, Shop data API): a shop's key writes its own shop's products,
orders and coupons in all-or-nothing batches whose errors name the row and field; hostile or
wrong input changes nothing; the agent's reads (search, orders, hot products, coupons) see
what was written."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bridge.infra import db
from bridge.shopdata.models import Order, OrderBuyer, Product, ProductTerm
from tests.factories import login
from tests.shop_data_kit import COUPONS, PRODUCTS, api_key, load, order, when


def _count(app, table) -> int:
    with db.new_session(app) as session:
        return session.scalar(select(func.count()).select_from(table))


def test_products_are_upserted_and_found_by_a_part_of_their_chinese_title(app, client, shop):
    key = api_key(app)
    load(client, key)
    alice = login(client)
    search = lambda q: [p["id"] for p in client.get("/api/v1/products", headers=alice,  # noqa: E731
                                                    query_string={"q": q}).get_json()["items"]]
    assert search("连衣") == ["p-dress"]
    assert search("连衣群") == ["p-dress"]  # a typo: one bigram of two still matches
    assert search("裙")[:2] == ["p-dress", "p-skirt"]  # on sale first
    assert search("oxf") == ["p-shirt"] and search("SHIRT") == ["p-shirt"]
    assert search("") == [] and search("!!") == []
    [shirt] = client.get("/api/v1/products", headers=alice, query_string={"q": "衬衫"}).get_json()["items"]
    assert shirt == {"id": "p-shirt", "title": "男士纯棉衬衫 Oxford shirt", "price": "129.00",
                     "image": "https://shop.example/shirt.png", "url": "https://shop.example/p/shirt",
                     "category": "menswear", "page_path": None, "on_sale": True}
    # A new title replaces the old one's terms; upserting again changes nothing more.
    renamed = [{**PRODUCTS[0], "title": "雪纺长裙"}]
    assert client.put("/api/v1/shop-data/products", headers=key, json={"items": renamed}).get_json() == {"upserted": 1}
    assert search("连衣") == [] and search("雪纺") == ["p-dress"]
    terms = _count(app, ProductTerm)
    client.put("/api/v1/shop-data/products", headers=key, json={"items": renamed})
    assert _count(app, ProductTerm) == terms and _count(app, Product) == 3


@pytest.mark.parametrize("items, row, field", [
    ([PRODUCTS[0], {**PRODUCTS[1], "price": "12.345"}], 1, "price"),
    ([PRODUCTS[0], {**PRODUCTS[1], "price": -1}], 1, "price"),
    ([{**PRODUCTS[0], "colour": "red"}], 0, "colour"),
    ([{**PRODUCTS[0], "url": "javascript:alert(1)"}], 0, "url"),
    ([{**PRODUCTS[0], "title": ""}], 0, "title"),
    ([{**PRODUCTS[0], "id": "a/b"}], 0, "id"),
    ([{**PRODUCTS[0], "page_path": "https://x.example/p"}], 0, "page_path"),
    ([PRODUCTS[0], PRODUCTS[1], PRODUCTS[0]], 2, "id"),  # the same id twice in one batch
    ([{k: v for k, v in PRODUCTS[0].items() if k != "title"}], 0, "title"),
])
def test_a_bad_product_refuses_the_whole_batch_naming_its_row_and_field(app, client, shop, items, row, field):
    resp = client.put("/api/v1/shop-data/products", headers=api_key(app), json={"items": items})
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert (error["code"], error["row"], error["field"]) == ("invalid", row, field), error
    assert f"items[{row}].{field}" in error["message"]
    assert _count(app, Product) == 0 and _count(app, ProductTerm) == 0


@pytest.mark.parametrize("change, field", [
    ({"state": "lost"}, "state"),
    ({"buyer": {}}, "buyer"),
    ({"buyer": {"openids": {"no-such-channel": "o-1"}}}, "buyer.openids.no-such-channel"),
    ({"items": []}, "items"),
    ({"items": [{"product_id": "p-dress", "quantity": 0, "price": 1}]}, "items[0].quantity"),
    ({"created_at": "2026-12-01 10:00"}, "created_at"),  # no offset: ambiguous
    ({"amount": "1e400"}, "amount"),
    ({"logistics": {"company": "顺丰", "carrier_pigeon": True}}, "logistics.carrier_pigeon"),
])
def test_a_bad_order_is_422_and_nothing_is_written(app, client, shop, change, field):
    items = [order("N-1"), {**order("N-2"), **change}]
    resp = client.put("/api/v1/shop-data/orders", headers=api_key(app), json={"items": items})
    assert resp.status_code == 422
    assert (resp.get_json()["error"]["row"], resp.get_json()["error"]["field"]) == (1, field)
    assert _count(app, Order) == 0 and _count(app, OrderBuyer) == 0


def test_batches_are_capped_and_the_body_must_be_the_documented_shape(app, client, shop):
    key = api_key(app)
    many = [{**PRODUCTS[1], "id": f"p-{i}"} for i in range(1001)]
    resp = client.put("/api/v1/shop-data/products", headers=key, json={"items": many})
    assert resp.status_code == 422 and "at most 1000" in resp.get_json()["error"]["message"]
    assert client.put("/api/v1/shop-data/products", headers=key, json={"items": many[:1000]}).status_code == 200
    for body in ({"items": []}, {"items": "x"}, {"rows": []}, {"items": [PRODUCTS[0]], "more": 1}):
        assert client.put("/api/v1/shop-data/products", headers=key, json=body).status_code == 422
    assert client.put("/api/v1/shop-data/products", headers=key, data="{", content_type="application/json"
                      ).status_code == 400
    big = {"items": [{**PRODUCTS[1], "id": "x", "title": "长" * 3_000_000}]}
    assert client.put("/api/v1/shop-data/products", headers=key, json=big).status_code == 413
    assert client.put("/api/v1/shop-data/widgets", headers=key, json={"items": [{}]}).status_code == 404


def test_a_key_reaches_its_own_shop_only_and_a_revoked_or_wrong_key_nothing(app, client, shop):
    from datetime import datetime, timezone

    from bridge.shopdata import keys

    acme, other = api_key(app), api_key(app, "other")
    load(client, acme)
    # The other shop's key writes its own product of the same id, and deletes nothing of acme's.
    assert client.put("/api/v1/shop-data/products", headers=other,
                      json={"items": [{**PRODUCTS[0], "title": "别家的裙子"}]}).status_code == 200
    assert client.delete("/api/v1/shop-data/products/p-shirt", headers=other).status_code == 404
    alice = login(client)
    assert [p["title"] for p in client.get("/api/v1/products", headers=alice, query_string={"q": "裙"}
                                           ).get_json()["items"]] == ["碎花连衣裙 夏季新款", "百褶半身裙"]
    agent_token = alice  # an agent's token is not a shop key
    for headers in ({}, agent_token, {"Authorization": "Bearer sd_000000000000.nope"}, {"Authorization": "Basic x"}):
        assert client.put("/api/v1/shop-data/products", headers=headers, json={"items": PRODUCTS}).status_code == 401
    with db.new_session(app) as session:
        keys.revoke(session, acme["Authorization"][7:].split(".")[0], datetime.now(timezone.utc))
        session.commit()
    assert client.put("/api/v1/shop-data/products", headers=acme, json={"items": PRODUCTS}).status_code == 401
    # A key's whole text is never stored, only its hash.
    from bridge.shopdata.models import ShopApiKey
    with db.new_session(app) as session:
        stored = [r.secret_hash for r in session.scalars(select(ShopApiKey))]
    assert acme["Authorization"][7:] not in stored and all(len(h) == 64 for h in stored)


def test_deleting_removes_the_row_and_its_lookups(app, client, shop):
    key = api_key(app)
    load(client, key, [order("N-1")])
    assert client.delete("/api/v1/shop-data/orders/N-1", headers=key).status_code == 204
    assert _count(app, Order) == 0 and _count(app, OrderBuyer) == 0
    assert client.delete("/api/v1/shop-data/orders/N-1", headers=key).status_code == 404
    assert client.delete("/api/v1/shop-data/products/p-dress", headers=key).status_code == 204
    alice = login(client)
    assert client.get("/api/v1/products", headers=alice, query_string={"q": "连衣"}).get_json()["items"] == []


def test_coupons_valid_now_and_hot_products_for_agents(app, client, shop):
    key = api_key(app)
    load(client, key, [order("N-1"), order("N-2", "o-other"), order("N-3", days=40)])
    alice = login(client)
    assert [c["id"] for c in client.get("/api/v1/coupons", headers=alice).get_json()["items"]] == ["c-20"]
    coupon = client.get("/api/v1/coupons", headers=alice).get_json()["items"][0]
    assert (coupon["value"], coupon["condition"]) == ("¥20", "满199可用")
    hot = client.get("/api/v1/products/hot", headers=alice).get_json()["items"]
    assert [(p["id"], p["sold"]) for p in hot] == [("p-dress", 4), ("p-shirt", 2)]  # 30 days: N-3 is older
    # A new order is counted at once: writing orders forgets the kept count.
    client.put("/api/v1/shop-data/orders", headers=key, json={"items": [
        {**order("N-4"), "items": [{"product_id": "p-shirt", "quantity": 5, "price": 129}], "amount": 645}]})
    hot = client.get("/api/v1/products/hot", headers=alice).get_json()["items"]
    assert [(p["id"], p["sold"]) for p in hot] == [("p-shirt", 7), ("p-dress", 4)]
    assert COUPONS[1]["id"] not in {c["id"] for c in client.get("/api/v1/coupons", headers=alice).get_json()["items"]}


def test_the_hot_list_shows_a_product_as_it_is_now(app, client, shop):
    key = api_key(app)
    load(client, key, [order("N-1")])
    alice = login(client)
    assert client.get("/api/v1/products/hot", headers=alice).get_json()["items"][0]["price"] == "199.00"
    client.put("/api/v1/shop-data/products", headers=key, json={"items": [{**PRODUCTS[0], "price": 99}]})
    assert client.get("/api/v1/products/hot", headers=alice).get_json()["items"][0]["price"] == "99.00"
    client.put("/api/v1/shop-data/products", headers=key, json={"items": [{**PRODUCTS[0], "on_sale": False}]})
    assert [p["id"] for p in client.get("/api/v1/products/hot", headers=alice).get_json()["items"]] == ["p-shirt"]


def test_a_late_resend_of_an_older_order_never_undoes_a_newer_state(app, client, shop):
    key = api_key(app)
    shipped = {**order("N-1", state="shipped"), "updated_at": when(0.5)}
    load(client, key, [shipped])
    older = {**order("N-1", state="unshipped", openid="o-someone-else"), "updated_at": when(1)}
    assert client.put("/api/v1/shop-data/orders", headers=key, json={"items": [older]}).status_code == 200
    with db.new_session(app) as session:
        kept = session.get(Order, (shop.id, "N-1"))
        buyers = [b.openid for b in session.scalars(select(OrderBuyer))]
    assert (kept.state, buyers) == ("shipped", ["o-buyer"])  # the row and its lookups as the newer one said
    newer = {**order("N-1", state="completed"), "updated_at": when(0)}
    client.put("/api/v1/shop-data/orders", headers=key, json={"items": [newer]})
    with db.new_session(app) as session:
        assert session.get(Order, (shop.id, "N-1")).state == "completed"
