"""Routing by what the shopper is doing (DESIGN.md, Entry context): the `category` of the
product their page named and the `order_state` of the order it named, else of their latest
order, choose the group; a product or order the shop never sent falls through to the whole
shop. And the widget's `viewed` reports reach the agent's panel."""
from __future__ import annotations

import copy

import pytest

from tests.factories import BASE_SHOP, load_shop, login, post_acme, shop_doc, text_xml
from tests.shop_data_kit import api_key, load, order
from tests.test_delivery import run_jobs
from tests.widget_kit import WIDGETS, user, write

GROUPS = [{"key": "menswear", "name": "男装客服"}, {"key": "aftersales", "name": "售后"},
          {"key": "reorders", "name": "复购"}]
AGENTS = [
    {"username": "alice", "password": "alice-password", "name": "Alice", "role": "admin", "groups": ["reorders"]},
    {"username": "bob", "password": "bob-password", "name": "Bob", "groups": ["menswear"]},
    {"username": "carol", "password": "carol-password", "name": "Carol", "groups": ["aftersales"]},
]
ROUTES = [{"when": {"category": "menswear"}, "group": "menswear"},
          {"when": {"order_state": "refunding"}, "group": "aftersales"},
          {"when": {"order_state": "completed"}, "group": "reorders"}]


@pytest.fixture
def routed(app, client):
    load_shop(app, shop_doc(channels=copy.deepcopy(BASE_SHOP["channels"]) + copy.deepcopy(WIDGETS),
                            groups=GROUPS, agents=AGENTS, entry_routes=ROUTES,
                            settings={"routing": "least_load", "recent_contact_hours": 0}))
    key = api_key(app)
    load(client, key, [order("N-old", state="refunding", days=3), order("N-new", state="completed", days=1),
                       order("W-1", openid=None, state="refunding", user_id="u1001")])
    for name in ("alice", "bob", "carol"):
        client.patch("/api/v1/me", headers=login(client, name), json={"status": "online"})
    return key


def _agent_of(client, external_id: str) -> str:
    run_jobs(client.application)  # routing runs in the dispatch job
    rows = client.get("/api/v1/conversations?state=active", headers=login(client)).get_json()["items"]
    [row] = [r for r in rows if r["customer"]["external_id"] == external_id]
    return row["agent"]["username"]


def test_the_category_of_the_product_the_page_named_chooses_the_group(client, routed):
    assert write(client, user(client, "u3003"), "这件衬衫有XL吗", context={"product": "p-shirt"}).status_code == 201
    assert _agent_of(client, "u_u3003") == "bob"


def test_the_order_the_page_named_comes_before_the_latest_order(client, routed):
    write(client, user(client, "u1001"), "这单还能退吗", context={"order": "N-new"})  # completed; W-1 refunding
    assert _agent_of(client, "u_u1001") == "alice"


def test_the_latest_order_chooses_the_group_on_wechat_and_on_the_web(client, routed):
    post_acme(client, text_xml("o-buyer", "我的订单"))  # N-new (completed) is later than N-old (refunding)
    assert _agent_of(client, "o-buyer") == "alice"
    write(client, user(client, "u1001"), "退款什么时候到")  # their only order, W-1, is refunding
    assert _agent_of(client, "u_u1001") == "carol"


@pytest.mark.parametrize("context", [{"product": "no-such-product"}, {"order": "no-such-order"}])
def test_a_product_or_order_the_shop_never_sent_falls_through_to_the_whole_shop(client, routed, context):
    write(client, user(client, "u4004"), "你好", context=context)
    assert _agent_of(client, "u_u4004") in ("alice", "bob", "carol")


def test_viewed_products_reach_the_agents_panel(client, routed):
    headers = user(client, "u2002")
    for product in ("p-dress", "p-shirt", "no-such-product", "p-dress"):
        assert client.post("/widget/acme-web/viewed", headers=headers, json={"product_id": product}).status_code == 204
    for bad in ({}, {"product_id": "a/b"}, {"product_id": 7.5}, {"product_id": "p-dress", "x": 1}):
        assert client.post("/widget/acme-web/viewed", headers=headers, json=bad).status_code == 422
    assert client.post("/widget/acme-web/viewed", json={"product_id": "p-dress"}).status_code == 401
    write(client, headers, "看了几件")
    alice = login(client)
    [row] = [r for r in client.get("/api/v1/conversations", headers=alice).get_json()["items"]
             if r["customer"]["external_id"] == "u_u2002"]
    seen = client.get(f"/api/v1/conversations/{row['id']}/viewed", headers=alice).get_json()["items"]
    assert [p["id"] for p in seen] == ["p-dress", "p-shirt"]  # the latest look first; unknown ids not kept
