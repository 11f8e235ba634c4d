"""Quick phrases: the shop's from the shop file and each agent's own — written, edited and
deleted by that agent alone, kept across shop loads, limited in size and number — on SQLite
and PostgreSQL."""
from __future__ import annotations

import json

import pytest

from bridge.web.api.phrases import MAX_OWN, MAX_TEXT, MAX_TITLE
from tests.factories import login, post_oa, shop_doc, text_xml

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
    {"title": 1, "text": "x"}, {"title": "t", "text": ["x"]}, {"title": "长" * 31, "text": "x"},
    {"title": "t", "text": "长" * 1001}, {"title": "t", "text": "x", "scope": "shop"}, {"title": None, "text": "x"},
])
def test_a_bad_phrase_is_422_and_stores_nothing(client, shop, body):
    bob = login(client, "bob")
    resp = client.post(URL, headers=bob, json=body)
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "invalid"
    assert [p["scope"] for p in client.get(URL, headers=bob).get_json()["items"]] == ["shop"]


def test_the_limits_count_characters_after_strip(client, shop):
    assert (MAX_TITLE, MAX_TEXT) == (30, 1000)
    bob = login(client, "bob")
    body = {"title": " " + "长" * 30 + "\n", "text": "  " + "字" * 1000 + "  "}
    mine = client.post(URL, headers=bob, json=body).get_json()
    assert (len(mine["title"]), len(mine["text"])) == (30, 1000)
    resp = client.patch(f"{URL}/{mine['id']}", headers=bob, json={"title": "长" * 31})
    assert resp.status_code == 422 and "at most 30" in resp.get_json()["error"]["message"]


def test_a_bad_edit_is_422_and_changes_nothing(client, shop):
    bob = login(client, "bob")
    mine = client.post(URL, headers=bob, json={"title": "t", "text": "x"}).get_json()
    for body in ({}, {"text": ""}, {"title": None}, {"id": 5}, {"text": "y" * 1001}, {"title": "y" * 31}):
        assert client.patch(f"{URL}/{mine['id']}", headers=bob, json=body).status_code == 422, body
    assert client.get(URL, headers=bob).get_json()["items"][0] == mine


def test_an_agent_has_at_most_so_many(client, shop):
    bob = login(client, "bob")
    for n in range(MAX_OWN):
        assert client.post(URL, headers=bob, json={"title": f"t{n}", "text": "x"}).status_code == 201
    resp = client.post(URL, headers=bob, json={"title": "one more", "text": "x"})
    assert resp.status_code == 409 and str(MAX_OWN) in resp.get_json()["error"]["message"]
    assert client.post(URL, headers=login(client), json={"title": "alice's", "text": "x"}).status_code == 201


def test_a_shop_load_replaces_the_shops_phrases_and_keeps_the_agents_own(app, client, shop, tmp_path):
    bob = login(client, "bob")
    mine = [client.post(URL, headers=bob, json={"title": t, "text": x}).get_json()
            for t, x in (("尺码", "M 码"), ("退换", "七天无理由"))]

    def shops_load(doc) -> None:  # the command a merchant runs: flask shops load FILE
        path = tmp_path / "shops.json"
        path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        result = app.test_cli_runner().invoke(args=["shops", "load", str(path)])
        assert result.exit_code == 0, result.output

    shops_load(shop_doc(quick_phrases=[{"title": "再见", "text": "感谢光临"}]))
    assert client.get(URL, headers=bob).get_json()["items"] == [
        *mine, {"id": None, "scope": "shop", "title": "再见", "text": "感谢光临"}]
    # a file without bob disables him; listed again, he has his own phrases back as they were
    doc = shop_doc(quick_phrases=[])
    doc["shops"][0]["agents"] = [a for a in doc["shops"][0]["agents"] if a["username"] != "bob"]
    shops_load(doc)
    shops_load(shop_doc(quick_phrases=[]))
    assert client.get(URL, headers=login(client, "bob")).get_json()["items"] == mine
