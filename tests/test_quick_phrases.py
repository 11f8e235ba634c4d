"""Quick phrases: the shop's from the shop file and each agent's own — written, edited and
deleted by that agent alone, kept across shop loads, limited in size and number — on SQLite
and PostgreSQL."""
from __future__ import annotations

import pytest

from bridge.web.api.phrases import MAX_OWN
from tests.factories import load_shop, login, post_oa, shop_doc, text_xml

URL = "/api/v1/quick-phrases"


def test_an_agents_own_phrases_come_first_then_the_shops(client, shop):
    bob = login(client, "bob")
    assert client.get(URL, headers=bob).get_json()["items"] == [
        {"id": None, "scope": "shop", "title": "问候", "text": "在的"}]
    resp = client.post(URL, headers=bob, json={"title": " 尺码 ", "text": "亲，M 码适合 100–120 斤\n"})
    assert resp.status_code == 201
    mine = resp.get_json()
    assert mine == {"id": mine["id"], "scope": "own", "title": "尺码", "text": "亲，M 码适合 100–120 斤"}
    second = client.post(URL, headers=bob, json={"title": "退货", "text": "七天无理由退货"}).get_json()
    assert [p["title"] for p in client.get(URL, headers=bob).get_json()["items"]] == ["尺码", "退货", "问候"]
    # alice has the shop's and none of bob's
    assert [p["title"] for p in client.get(URL, headers=login(client)).get_json()["items"]] == ["问候"]
    assert second["id"] != mine["id"]


def test_an_agent_edits_and_deletes_only_their_own(client, shop):
    bob, alice = login(client, "bob"), login(client)
    mine = client.post(URL, headers=bob, json={"title": "尺码", "text": "M 码"}).get_json()
    resp = client.patch(f"{URL}/{mine['id']}", headers=bob, json={"text": "L 码"})
    assert resp.status_code == 200 and resp.get_json()["text"] == "L 码" and resp.get_json()["title"] == "尺码"
    resp = client.patch(f"{URL}/{mine['id']}", headers=bob, json={"title": "尺码建议", "text": "XL 码"})
    assert resp.get_json() == {**mine, "title": "尺码建议", "text": "XL 码"}
    for method in ("patch", "delete"):  # an admin of the same shop is not bob
        assert getattr(client, method)(f"{URL}/{mine['id']}", headers=alice, json={"text": "x"}).status_code == 404
    assert client.delete(f"{URL}/{mine['id']}", headers=bob).status_code == 204
    assert client.delete(f"{URL}/{mine['id']}", headers=bob).status_code == 404
    assert [p["scope"] for p in client.get(URL, headers=bob).get_json()["items"]] == ["shop"]


def test_another_shops_agent_gets_404(client, shop):
    mine = client.post(URL, headers=login(client, "bob"), json={"title": "t", "text": "x"}).get_json()
    post_oa(client, "other-oa", "othertoken", text_xml("o-other", "hi"))
    mallory = login(client, "mallory", shop="other")
    assert client.patch(f"{URL}/{mine['id']}", headers=mallory, json={"text": "y"}).status_code == 404
    assert client.delete(f"{URL}/{mine['id']}", headers=mallory).status_code == 404
    assert client.get(URL, headers=mallory).get_json()["items"] == []


@pytest.mark.parametrize("body", [
    {}, {"title": "t"}, {"text": "x"}, {"title": "", "text": "x"}, {"title": "t", "text": "   "},
    {"title": 1, "text": "x"}, {"title": "t", "text": ["x"]}, {"title": "t" * 201, "text": "x"},
    {"title": "t", "text": "x" * 2001}, {"title": "t", "text": "x", "scope": "shop"},
])
def test_a_bad_phrase_is_422_and_stores_nothing(client, shop, body):
    bob = login(client, "bob")
    resp = client.post(URL, headers=bob, json=body)
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "invalid"
    assert [p["scope"] for p in client.get(URL, headers=bob).get_json()["items"]] == ["shop"]


def test_a_bad_edit_is_422_and_changes_nothing(client, shop):
    bob = login(client, "bob")
    mine = client.post(URL, headers=bob, json={"title": "t", "text": "x"}).get_json()
    for body in ({}, {"text": ""}, {"title": None}, {"id": 5}, {"text": "y" * 2001}):
        assert client.patch(f"{URL}/{mine['id']}", headers=bob, json=body).status_code == 422, body
    assert client.get(URL, headers=bob).get_json()["items"][0] == mine


def test_an_agent_has_at_most_so_many(client, shop):
    bob = login(client, "bob")
    for n in range(MAX_OWN):
        assert client.post(URL, headers=bob, json={"title": f"t{n}", "text": "x"}).status_code == 201
    resp = client.post(URL, headers=bob, json={"title": "one more", "text": "x"})
    assert resp.status_code == 409 and str(MAX_OWN) in resp.get_json()["error"]["message"]
    assert client.post(URL, headers=login(client), json={"title": "alice's", "text": "x"}).status_code == 201


def test_a_shop_load_replaces_the_shops_phrases_and_keeps_the_agents_own(app, client, shop):
    bob = login(client, "bob")
    client.post(URL, headers=bob, json={"title": "尺码", "text": "M 码"})
    load_shop(app, shop_doc(quick_phrases=[{"title": "再见", "text": "感谢光临"}]))
    assert [(p["scope"], p["title"]) for p in client.get(URL, headers=bob).get_json()["items"]] == [
        ("own", "尺码"), ("shop", "再见")]
