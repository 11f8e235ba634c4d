"""The shopper panel's calls (README, Agent API): the shopper, their conversations, notes, tags
and the shop's tag vocabulary, the exclusive agent, the customer.updated event, and the 历史
search over all of it — on SQLite and PostgreSQL."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import select, update

from adapters.wechat.push import event_xml
from bridge.events.log import read
from bridge.infra import db
from bridge.models import Agent, Customer
from tests.factories import login, post_acme, post_oa, text_xml


@pytest.fixture
def chat(client, shop) -> dict:
    """Shopper o-panel assigned to bob (the one online), with alice (admin) and bob logged in."""
    alice, bob = login(client), login(client, "bob")
    post_acme(client, text_xml("o-panel", "订单 88001 什么时候到"))
    assert client.patch("/api/v1/me", headers=bob, json={"status": "online"}).status_code == 200
    [row] = client.get("/api/v1/conversations?state=active", headers=bob).get_json()["items"]
    return {"alice": alice, "bob": bob, "conversation": row["id"], "customer": row["customer"]["id"]}


def test_the_shopper_as_the_panel_shows_them(client, chat):
    body = client.get(f"/api/v1/customers/{chat['customer']}", headers=chat["bob"]).get_json()
    assert body["external_id"] == "o-panel" and body["channel"] == {"key": "acme-oa", "kind": "wechat_oa"}
    assert body["entry"] == {"scene": None, "menu": None, "product": None, "order": None, "page": None}
    assert body["first_seen_at"].endswith("+00:00") and body["last_seen_at"].endswith("+00:00")
    assert body["exclusive_agent"] is None and body["tags"] == []
    history = client.get(f"/api/v1/customers/{chat['customer']}/conversations", headers=chat["bob"]).get_json()
    assert [c["id"] for c in history["items"]] == [chat["conversation"]]
    assert history["items"][0]["unanswered"] == 1


def test_the_entry_scene_a_qr_code_gave_is_shown(client, shop):
    post_acme(client, event_xml("o-scan", "SCAN", "poster-1"))
    post_acme(client, text_xml("o-scan", "转人工"))
    [row] = client.get("/api/v1/conversations", headers=login(client)).get_json()["items"]
    body = client.get(f"/api/v1/customers/{row['customer']['id']}", headers=login(client)).get_json()
    assert body["entry"]["scene"] == "poster-1"


def test_notes_are_kept_by_agent_and_deleted_by_their_author_or_an_admin(client, chat):
    url = f"/api/v1/customers/{chat['customer']}/notes"
    resp = client.post(url, headers=chat["bob"], json={"text": "  老客户，偏好顺丰  "})
    assert resp.status_code == 201
    note = resp.get_json()
    assert note["text"] == "老客户，偏好顺丰" and note["agent"] == {"username": "bob", "name": "Bob"}
    second = client.post(url, headers=chat["alice"], json={"text": "已补发赠品"}).get_json()
    listed = client.get(url, headers=chat["bob"]).get_json()["items"]
    assert [n["text"] for n in listed] == ["已补发赠品", "老客户，偏好顺丰"]  # newest first
    resp = client.delete(f"{url}/{second['id']}", headers=chat["bob"])  # alice's note: not bob's to delete
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    assert client.delete(f"{url}/{note['id']}", headers=chat["bob"]).status_code == 204
    assert client.delete(f"{url}/{second['id']}", headers=chat["alice"]).status_code == 204
    assert client.get(url, headers=chat["bob"]).get_json()["items"] == []
    assert client.delete(f"{url}/{note['id']}", headers=chat["alice"]).status_code == 404


@pytest.mark.parametrize("body", [{}, {"text": ""}, {"text": "   "}, {"text": 5}, {"text": "x" * 1001},
                                  {"text": "好", "pinned": True}])
def test_a_bad_note_is_422_and_stores_nothing(client, chat, body):
    url = f"/api/v1/customers/{chat['customer']}/notes"
    resp = client.post(url, headers=chat["bob"], json=body)
    assert resp.status_code == 422 and resp.get_json()["error"]["code"] == "invalid"
    assert client.get(url, headers=chat["bob"]).get_json()["items"] == []


def test_tags_come_from_the_shops_vocabulary_and_go_on_and_off_idempotently(client, chat):
    assert client.post("/api/v1/tags", headers=chat["bob"], json={"name": "爱砍价"}).status_code == 403
    resp = client.post("/api/v1/tags", headers=chat["alice"], json={"name": "爱砍价"})
    assert resp.status_code == 201
    tag = resp.get_json()
    assert client.post("/api/v1/tags", headers=chat["alice"], json={"name": "爱砍价"}).status_code == 409
    assert client.post("/api/v1/tags", headers=chat["alice"], json={"name": "x" * 21}).status_code == 422
    assert client.get("/api/v1/tags", headers=chat["bob"]).get_json()["items"] == [tag]
    url = f"/api/v1/customers/{chat['customer']}"
    for _ in range(2):
        assert client.put(f"{url}/tags/{tag['id']}", headers=chat["bob"]).status_code == 204
    assert client.get(url, headers=chat["bob"]).get_json()["tags"] == [tag]
    for _ in range(2):
        assert client.delete(f"{url}/tags/{tag['id']}", headers=chat["bob"]).status_code == 204
    assert client.get(url, headers=chat["bob"]).get_json()["tags"] == []
    assert client.put(f"{url}/tags/999999", headers=chat["bob"]).status_code == 404


def test_another_shops_shopper_note_and_tag_are_not_found(client, chat):
    post_oa(client, "other-oa", "othertoken", text_xml("o-other", "别家的顾客"))
    mallory = login(client, "mallory", shop="other")
    [row] = client.get("/api/v1/conversations", headers=mallory).get_json()["items"]
    theirs = row["customer"]["id"]
    their_tag = client.post("/api/v1/tags", headers=mallory, json={"name": "别家"}).get_json()
    ours = f"/api/v1/customers/{chat['customer']}"
    note = client.post(f"{ours}/notes", headers=chat["bob"], json={"text": "n"}).get_json()
    for method, url in [("get", f"/api/v1/customers/{theirs}"), ("get", f"/api/v1/customers/{theirs}/notes"),
                        ("get", f"/api/v1/customers/{theirs}/conversations"),
                        ("post", f"/api/v1/customers/{theirs}/notes"),
                        ("put", f"/api/v1/customers/{chat['customer']}/tags/{their_tag['id']}"),
                        ("delete", f"/api/v1/customers/{theirs}/notes/{note['id']}"),
                        ("put", f"/api/v1/customers/{theirs}/exclusive-agent")]:
        resp = getattr(client, method)(url, headers=chat["alice"], json={"text": "x", "agent": None})
        assert resp.status_code == 404, (method, url, resp.get_json())
    assert client.get("/api/v1/tags", headers=chat["alice"]).get_json()["items"] == []


def test_an_agent_does_not_see_another_agents_shopper(client, chat):
    assert client.get(f"/api/v1/customers/{chat['customer']}", headers=chat["bob"]).status_code == 200
    assert client.patch("/api/v1/me", headers=chat["alice"], json={"status": "online"}).status_code == 200
    resp = client.post(f"/api/v1/conversations/{chat['conversation']}/transfer", headers=chat["bob"],
                       json={"agent": "alice"})
    assert resp.status_code == 200, resp.get_json()
    for url in ("", "/notes", "/conversations"):
        resp = client.get(f"/api/v1/customers/{chat['customer']}{url}", headers=chat["bob"])
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    assert client.get(f"/api/v1/customers/{chat['customer']}", headers=chat["alice"]).status_code == 200


def test_the_exclusive_agent_is_set_by_admins_and_routing_follows_it(client, chat):
    url = f"/api/v1/customers/{chat['customer']}/exclusive-agent"
    assert client.put(url, headers=chat["bob"], json={"agent": "bob"}).status_code == 403
    resp = client.put(url, headers=chat["alice"], json={"agent": "nobody"})
    assert resp.status_code == 422 and "nobody" in resp.get_json()["error"]["message"]
    assert client.put(url, headers=chat["alice"], json={"agent": 7}).status_code == 422
    assert client.put(url, headers=chat["alice"], json={}).status_code == 422
    assert client.put(url, headers=chat["alice"], json={"agent": "mallory"}).status_code == 422  # another shop's
    resp = client.put(url, headers=chat["alice"], json={"agent": "alice"})
    assert resp.status_code == 200 and resp.get_json() == {"exclusive_agent": {"username": "alice", "name": "Alice"}}
    assert client.get(f"/api/v1/customers/{chat['customer']}", headers=chat["bob"]).get_json()[
        "exclusive_agent"]["username"] == "alice"
    assert client.put(url, headers=chat["alice"], json={"agent": None}).get_json() == {"exclusive_agent": None}


def test_an_agent_removed_from_the_shop_is_no_exclusive_agent(app, client, chat):
    with app.app_context():
        session = db.session()
        session.execute(update(Agent).where(Agent.username == "bob").values(active=False))
        session.commit()
    resp = client.put(f"/api/v1/customers/{chat['customer']}/exclusive-agent", headers=chat["alice"],
                      json={"agent": "bob"})
    assert resp.status_code == 422 and "agent" in resp.get_json()["error"]["message"]


def test_routing_gives_a_shopper_to_their_exclusive_agent(client, chat):
    """Bob (online) serves one shopper; two more wait. Alice makes bob o-vip's exclusive agent
    and comes online: least-load alone would give both to alice, who has none."""
    post_acme(client, text_xml("o-vip", "在吗"))
    post_acme(client, text_xml("o-plain", "在吗"))
    queued = {r["customer"]["external_id"]: r["customer"]["id"] for r in client.get(
        "/api/v1/conversations?state=queued", headers=chat["alice"]).get_json()["items"]}
    resp = client.put(f"/api/v1/customers/{queued['o-vip']}/exclusive-agent", headers=chat["alice"],
                      json={"agent": "bob"})
    assert resp.status_code == 200
    assert client.patch("/api/v1/me", headers=chat["alice"], json={"status": "online"}).status_code == 200
    active = client.get("/api/v1/conversations?state=active", headers=chat["alice"]).get_json()["items"]
    assert {r["customer"]["external_id"]: r["agent"]["username"] for r in active} == {
        "o-panel": "bob", "o-vip": "bob", "o-plain": "alice"}


def test_each_change_tells_the_panels_showing_the_shopper(app, client, chat):
    redis_client = app.extensions["redis"]
    with app.app_context():
        shop_id = db.session().scalar(select(Customer.shop_id).where(Customer.id == chat["customer"]))
    start = read(redis_client, shop_id, "0-0", count=10000)[-1][0]
    base = f"/api/v1/customers/{chat['customer']}"
    note = client.post(f"{base}/notes", headers=chat["bob"], json={"text": "n"}).get_json()
    tag = client.post("/api/v1/tags", headers=chat["alice"], json={"name": "VIP"}).get_json()
    client.put(f"{base}/tags/{tag['id']}", headers=chat["bob"])
    client.put(f"{base}/tags/{tag['id']}", headers=chat["bob"])  # already on: nothing changed, nothing told
    client.delete(f"{base}/notes/{note['id']}", headers=chat["bob"])
    client.put(f"{base}/exclusive-agent", headers=chat["alice"], json={"agent": "bob"})
    deadline = time.monotonic() + 5
    while len(told := [e for _, e in read(redis_client, shop_id, start) if e["type"] == "customer.updated"]) < 4:
        assert time.monotonic() < deadline, told
        time.sleep(0.02)
    time.sleep(0.2)
    told = [e for _, e in read(redis_client, shop_id, start) if e["type"] == "customer.updated"]
    assert len(told) == 4
    assert all(e["customer"] == {"id": chat["customer"]} for e in told)
    bob_id = told[0]["audience"]["agents"]
    assert all(e["audience"]["agents"] == bob_id and e["audience"]["shopper"] == chat["customer"] for e in told)


def test_the_agent_of_an_earlier_conversation_is_told_too(app, client, chat):
    """Bob served o-panel before; the shopper writes again and alice takes the new one. Bob
    still sees the shopper (his ended conversation), so his panel hears of alice's note."""
    redis_client = app.extensions["redis"]
    assert client.post(f"/api/v1/conversations/{chat['conversation']}/end", headers=chat["bob"]).status_code == 200
    assert client.patch("/api/v1/me", headers=chat["bob"], json={"status": "offline"}).status_code == 200
    for text in ("还有一个问题", "还有一个问题"):  # the first is taken as an answer to the rating card
        post_acme(client, text_xml("o-panel", text))
    assert client.patch("/api/v1/me", headers=chat["alice"], json={"status": "online"}).status_code == 200
    [now] = client.get("/api/v1/conversations?state=active", headers=chat["alice"]).get_json()["items"]
    assert now["agent"]["username"] == "alice" and now["id"] != chat["conversation"]
    with app.app_context():
        session = db.session()
        shop_id = session.scalar(select(Customer.shop_id).where(Customer.id == chat["customer"]))
        ids = dict(session.execute(select(Agent.username, Agent.id).where(Agent.shop_id == shop_id)).all())
    start = read(redis_client, shop_id, "0-0", count=10000)[-1][0]
    assert client.get(f"/api/v1/customers/{chat['customer']}", headers=chat["bob"]).status_code == 200
    resp = client.post(f"/api/v1/customers/{chat['customer']}/notes", headers=chat["alice"], json={"text": "n"})
    assert resp.status_code == 201
    deadline = time.monotonic() + 5
    while not (told := [e for _, e in read(redis_client, shop_id, start) if e["type"] == "customer.updated"]):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert told[0]["audience"] == {"agents": sorted([ids["alice"], ids["bob"]]), "queue": False,
                                   "shopper": chat["customer"]}
    assert told[0]["conversation_id"] == now["id"]


@pytest.mark.parametrize("query,found", [
    ("o-pan", True), ("小王", True), ("poster-SPRING", True),
    ("88001", True), ("什么时候到", True), ("老客户", True), ("VIP", True), ("vip", True),
    ("%", False), ("_", False), ("nothing-like-it", False),
])
def test_history_search_finds_ended_conversations_by_shopper_message_note_and_tag(app, client, chat, query, found):
    with app.app_context():  # what a profile lookup and a QR code scanned would have kept
        session = db.session()
        session.execute(update(Customer).where(Customer.id == chat["customer"])
                        .values(nickname="老顾客小王", entry_scene="poster-spring"))
        session.commit()
    base = f"/api/v1/customers/{chat['customer']}"
    client.post(f"{base}/notes", headers=chat["bob"], json={"text": "老客户"})
    tag = client.post("/api/v1/tags", headers=chat["alice"], json={"name": "VIP"}).get_json()
    client.put(f"{base}/tags/{tag['id']}", headers=chat["bob"])
    client.post(f"/api/v1/conversations/{chat['conversation']}/end", headers=chat["bob"])
    post_acme(client, text_xml("o-someone", "别的顾客 100% 满意"))
    for who in ("bob", "alice"):
        items = client.get("/api/v1/conversations", headers=chat[who],
                           query_string={"state": "ended", "q": query}).get_json()["items"]
        assert [c["id"] for c in items] == ([chat["conversation"]] if found else []), who


@pytest.mark.parametrize("q", ["x" * 101, "a\x00b"])
def test_a_bad_search_is_400(client, chat, q):
    resp = client.get("/api/v1/conversations", headers=chat["bob"], query_string={"state": "ended", "q": q})
    assert resp.status_code == 400
