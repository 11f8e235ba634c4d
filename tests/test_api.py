"""The agent API: login, scope to the agent's shop, strict bodies, the reply outbox row."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from tests.factories import login, post_acme, post_oa, text_xml


@pytest.fixture
def queued_id(client, shop) -> int:
    """A shopper waiting in the queue (nobody is online yet)."""
    post_acme(client, text_xml("o-api", "我想问一下尺码"))
    items = client.get("/api/v1/conversations", headers=login(client)).get_json()["items"]
    return items[0]["id"]


@pytest.fixture
def conversation_id(client, queued_id) -> int:
    """The same shopper, assigned to alice when she goes online."""
    resp = client.patch("/api/v1/me", headers=login(client), json={"status": "online"})
    assert resp.status_code == 200
    detail = client.get(f"/api/v1/conversations/{queued_id}", headers=login(client)).get_json()
    assert detail["state"] == "active" and detail["agent"]["username"] == "alice"
    return queued_id


@pytest.fixture
def other_conversation_id(client, shop) -> int:
    post_oa(client, "other-oa", "othertoken", text_xml("o-other", "别家的顾客"))
    items = client.get("/api/v1/conversations", headers=login(client, "mallory", shop="other")).get_json()["items"]
    return items[0]["id"]


def test_login_gives_a_token_and_the_agent(client, shop):
    resp = client.post("/api/v1/auth/login", json={"shop": "acme", "username": "alice", "password": "alice-password"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["agent"]["username"] == "alice" and body["agent"]["status"] == "offline"
    me = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.get_json()["name"] == "Alice"


@pytest.mark.parametrize("body", [
    {"shop": "acme", "username": "alice", "password": "wrong-password"},
    {"shop": "acme", "username": "nobody", "password": "alice-password"},
    {"shop": "other", "username": "alice", "password": "alice-password"},
])
def test_bad_credentials_are_401(client, shop, body):
    resp = client.post("/api/v1/auth/login", json=body)
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "invalid_credentials"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer nonsense"}, {"Authorization": "Basic abc"}])
def test_calls_without_a_valid_token_are_401(client, shop, headers):
    resp = client.get("/api/v1/conversations", headers=headers)
    assert resp.status_code == 401 and "error" in resp.get_json()


def test_conversation_list_and_detail_carry_the_contract(client, queued_id):
    conversation_id = queued_id
    headers = login(client, "bob")
    [item] = client.get("/api/v1/conversations", headers=headers).get_json()["items"]
    assert item["id"] == conversation_id and item["state"] == "queued"
    assert item["channel"] == {"key": "acme-oa", "kind": "wechat_oa"}
    assert item["customer"]["external_id"] == "o-api" and item["agent"] is None
    assert item["queued_at"].endswith("+00:00") and item["assigned_at"] is None
    detail = client.get(f"/api/v1/conversations/{conversation_id}", headers=headers).get_json()
    assert detail.pop("metrics") == {"answered": 0, "answered_within_3min": 0, "response_rate_3min": None}
    window = detail.pop("send_window")  # the shopper wrote just now: WeChat's 48 hours and 5 messages
    assert window["open"] is True and window["sends_left"] == 5
    hours_left = (datetime.fromisoformat(window["closes_at"]) - datetime.now(timezone.utc)).total_seconds() / 3600
    assert 47.9 < hours_left <= 48
    assert detail == item
    assert client.get("/api/v1/conversations?state=ended", headers=headers).get_json()["items"] == []
    assert client.get("/api/v1/conversations?state=queued", headers=headers).get_json()["items"] == [item]
    assert client.get("/api/v1/conversations?state=bogus", headers=headers).status_code == 400


def test_messages_list_shows_direction_sender_and_delivery(client, conversation_id):
    headers = login(client)
    resp = client.post(f"/api/v1/conversations/{conversation_id}/messages", headers=headers,
                       json={"type": "text", "text": "亲，您好"})
    assert resp.status_code == 201
    reply = resp.get_json()
    assert (reply["direction"], reply["sender"], reply["agent"]["username"]) == ("out", "agent", "alice")
    assert reply["delivery"]["state"] == "pending"
    items = client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=headers).get_json()["items"]
    assert [(m["direction"], m["sender"], m["text"]) for m in items] == [
        ("in", "customer", "我想问一下尺码"), ("out", "system", "您好，我是Alice，请问有什么可以帮您？"),
        ("out", "agent", "亲，您好")]
    assert items[0]["delivery"] is None


def test_another_shops_ids_answer_404(client, conversation_id, other_conversation_id):
    headers = login(client)  # alice of acme
    for path in (f"/api/v1/conversations/{other_conversation_id}",
                 f"/api/v1/conversations/{other_conversation_id}/messages"):
        assert client.get(path, headers=headers).status_code == 404
    resp = client.post(f"/api/v1/conversations/{other_conversation_id}/messages", headers=headers,
                       json={"type": "text", "text": "越界"})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    mallory = login(client, "mallory", shop="other")
    items = client.get(f"/api/v1/conversations/{other_conversation_id}/messages", headers=mallory).get_json()["items"]
    assert [m["text"] for m in items] == ["别家的顾客"]  # nothing was added
    assert client.get("/api/v1/conversations/999999", headers=headers).status_code == 404


@pytest.mark.parametrize("kwargs, status", [
    ({"data": "{not json", "content_type": "application/json"}, 400),
    ({"data": "text=hi", "content_type": "application/x-www-form-urlencoded"}, 400),
    ({"json": ["a", "list"]}, 400),
    ({"json": {"type": "text", "text": ""}}, 422),
    ({"json": {"type": "text", "text": "x" * 2001}}, 422),
    ({"json": {"type": "text", "text": 42}}, 422),
    ({"json": {"type": "video", "text": "hi"}}, 422),
])
def test_bad_reply_bodies_are_refused_and_store_nothing(client, conversation_id, kwargs, status):
    headers = login(client)
    resp = client.post(f"/api/v1/conversations/{conversation_id}/messages", headers=headers, **kwargs)
    assert resp.status_code == status and resp.get_json()["error"]["message"]
    items = client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=headers).get_json()["items"]
    assert [m["sender"] for m in items] == ["customer", "system"]  # the shopper's, the welcome


def test_pagination_of_messages(client, conversation_id):
    headers = login(client)
    for i in range(5):
        client.post(f"/api/v1/conversations/{conversation_id}/messages", headers=headers, json={"text": f"m{i}"})
    page = client.get(f"/api/v1/conversations/{conversation_id}/messages?limit=2", headers=headers).get_json()["items"]
    assert [m["text"] for m in page] == ["m3", "m4"]
    older = client.get(f"/api/v1/conversations/{conversation_id}/messages?limit=2&before={page[0]['id']}",
                       headers=headers).get_json()["items"]
    assert [m["text"] for m in older] == ["m1", "m2"]
    assert client.get(f"/api/v1/conversations/{conversation_id}/messages?limit=0", headers=headers).status_code == 400


@pytest.mark.parametrize("method, path, status, code", [
    ("GET", "/api/v1/nope", 404, "not_found"), ("GET", "/api", 404, "not_found"),
    ("GET", "/api/v2/conversations", 404, "not_found"), ("DELETE", "/api/v1/me", 405, "method_not_allowed"),
])
def test_a_url_under_api_that_names_no_call_is_answered_in_json(client, method, path, status, code):
    resp = client.open(path, method=method)
    assert resp.status_code == status and resp.get_json()["error"]["code"] == code


def test_a_webhook_url_that_names_no_channel_is_answered_in_plain_text(client, shop):
    resp = client.post("/hooks/wechat-oa/nope", data=b"<xml/>")
    assert resp.status_code == 404 and resp.content_type.startswith("text/plain")
    assert client.get("/hooks/no-such-kind/x").status_code == 404


def test_invalid_json_is_named_as_such(client, shop):
    headers = {**login(client), "Content-Type": "application/json"}
    resp = client.patch("/api/v1/me", headers=headers, data=b'{"status": "online"')
    assert resp.status_code == 400 and resp.get_json()["error"]["message"] == "the body is not valid JSON"
    resp = client.patch("/api/v1/me", headers=headers, data=b'["online"]')
    assert resp.get_json()["error"]["message"] == "the body must be a JSON object"


def test_groups_and_quick_phrases(client, shop):
    headers = login(client, "bob")
    assert client.get("/api/v1/groups", headers=headers).get_json() == {"items": [{"key": "presales", "name": "售前"}]}
    assert client.get("/api/v1/quick-phrases", headers=headers).get_json() == {  # own ones: test_quick_phrases.py
        "items": [{"id": None, "scope": "shop", "title": "问候", "text": "在的"}]}
    other = login(client, "mallory", shop="other")
    assert client.get("/api/v1/groups", headers=other).get_json() == {"items": []}


def test_the_list_takes_several_states_pages_and_previews(client, shop):
    for n in range(3):
        post_acme(client, text_xml(f"o-list{n}", f"问题{n}"))
    post_acme(client, text_xml("o-list0", "还在吗"))
    post_acme(client, text_xml("o-bot", "什么时候发货"))  # the robot answers: stays with the bot
    headers = login(client)

    both = client.get("/api/v1/conversations?state=queued,bot", headers=headers).get_json()
    assert sorted(c["state"] for c in both["items"]) == ["bot", "queued", "queued", "queued"]
    assert client.get("/api/v1/conversations?state=queued&state=bot", headers=headers).get_json() == both
    assert client.get("/api/v1/conversations?state=queued,nope", headers=headers).status_code == 400

    rows = {c["customer"]["external_id"]: c for c in both["items"]}
    assert (rows["o-list0"]["last_message"]["text"], rows["o-list0"]["unanswered"]) == ("还在吗", 2)
    assert (rows["o-bot"]["last_message"]["sender"], rows["o-bot"]["unanswered"]) == ("bot", 0)
    # the place each waiting shopper has in the shop's queue, first come first served
    assert [rows[f"o-list{n}"]["queue_position"] for n in range(3)] == [1, 2, 3]
    assert rows["o-bot"]["queue_position"] is None

    first = client.get("/api/v1/conversations?limit=2", headers=headers).get_json()
    assert len(first["items"]) == 2 and first["next_before"] == first["items"][-1]["id"]
    rest = client.get(f"/api/v1/conversations?limit=2&before={first['next_before']}", headers=headers).get_json()
    assert [c["id"] for c in rest["items"]] and rest["next_before"] is None or len(rest["items"]) == 2
    seen = [c["id"] for c in first["items"] + rest["items"]]
    assert seen == sorted(seen, reverse=True) and len(set(seen)) == len(seen) == 4


def test_me_says_how_many_conversations_the_agent_serves(client, conversation_id):
    headers = login(client)
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert (me["username"], me["status"], me["active_conversations"], me["max_concurrent"]) == ("alice", "online", 1, 10)
    assert client.post(f"/api/v1/conversations/{conversation_id}/end", headers=headers).status_code == 200
    assert client.patch("/api/v1/me", headers=headers, json={"max_concurrent": 3}).get_json()["active_conversations"] == 0
    assert client.get("/api/v1/me", headers=login(client, "bob")).get_json()["active_conversations"] == 0
