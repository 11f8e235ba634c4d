"""The widget's API is open to the internet: each wrong request is refused with a clear error
and stores nothing; visitors, messages, images and typing are limited per shopper and per
address (429 with Retry-After); a shopper's retries racing across gunicorn processes are stored once."""
from __future__ import annotations

import io
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from bridge.infra import db
from bridge.models import Customer, InboundReceipt, Message
from tests.conftest import make_app
from tests.live import app_env, gunicorn
from tests.widget_kit import visitor, widget_shop, write


def stored(app) -> tuple[int, int]:
    with db.new_session(app) as s:
        return (s.scalar(select(func.count()).select_from(Customer)),
                s.scalar(select(func.count()).select_from(Message)))


@pytest.mark.parametrize("name, body, status, code", [
    ("no client id", {"text": "你好"}, 422, "invalid"),
    ("a short client id", {"client_id": "abc", "text": "你好"}, 422, "invalid"),
    ("a client id with spaces", {"client_id": "abc def ghi", "text": "你好"}, 422, "invalid"),
    ("no text", {"client_id": "c-00000001"}, 422, "invalid"),
    ("blank text", {"client_id": "c-00000001", "text": "   "}, 422, "invalid"),
    ("text as a number", {"client_id": "c-00000001", "text": 5}, 422, "invalid"),
    ("text over 2000", {"client_id": "c-00000001", "text": "好" * 2001}, 422, "invalid"),
    ("a NUL", {"client_id": "c-00000001", "text": "a\u0000b"}, 422, "invalid"),
    ("a lone surrogate", {"client_id": "c-00000001", "text": "a\ud800b"}, 422, "invalid"),
    ("an unknown context field", {"client_id": "c-00000001", "text": "x", "context": {"cookie": "1"}}, 422, "invalid"),
    ("a context that is a list", {"client_id": "c-00000001", "text": "x", "context": ["vip"]}, 422, "invalid"),
    ("a scene over 128", {"client_id": "c-00000001", "text": "x", "context": {"scene": "s" * 129}}, 422, "invalid"),
])
def test_wrong_messages_are_refused_and_store_nothing(app, client, web, name, body, status, code):
    shopper = visitor(client)
    resp = client.post("/widget/acme-web/messages", headers=shopper, data=json.dumps(body),  # \ud800 escaped
                       content_type="application/json")
    assert (resp.status_code, resp.get_json()["error"]["code"]) == (status, code), name
    assert stored(app) == (0, 0)


@pytest.mark.parametrize("name, data, status", [
    ("not JSON", b"{\"client_id\": ", 400),
    ("a JSON list", b"[1, 2]", 400),
    ("deep nesting", b"[" * 100_000 + b"]" * 100_000, 413),
    ("over 16 KB", b"{\"client_id\": \"c-00000001\", \"text\": \"" + b"a" * 17_000 + b"\"}", 413),
    ("not UTF-8", b"{\"client_id\": \"c-00000001\", \"text\": \"\xff\xfe\"}", 400),
])
def test_hostile_bodies_are_refused(app, client, web, name, data, status):
    shopper = visitor(client)
    resp = client.post("/widget/acme-web/messages", headers={**shopper, "Content-Type": "application/json"}, data=data)
    assert resp.status_code == status, name
    assert stored(app) == (0, 0)


def test_wrong_images_are_refused(app, client, web):
    shopper = visitor(client)

    def send(content: bytes, field: str = "image"):
        return client.post("/widget/acme-web/messages", headers=shopper, content_type="multipart/form-data",
                           data={"client_id": "image-0001", field: (io.BytesIO(content), "x.png")})
    assert send(b"<svg onload=alert(1)></svg>").status_code == 422
    assert send(b"MZ\x90\x00 not an image").status_code == 422
    assert send(b"\x89PNG\r\n\x1a\n" + b"\x00" * (10 * 1024 * 1024)).status_code == 413
    assert send(b"\x89PNG\r\n\x1a\n", field="file").status_code == 400
    assert stored(app) == (0, 0)


def test_context_is_checked_like_a_message(app, client, web):
    shopper = visitor(client)
    assert client.post("/widget/acme-web/context", headers=shopper, json={"scene": 7}).status_code == 422
    assert client.post("/widget/acme-web/context", headers=shopper, json={"referrer": "x"}).status_code == 422
    long_page = "https://shop.acme.example/p?" + "q" * 1000
    assert client.post("/widget/acme-web/context", headers=shopper, json={"page": long_page}).status_code == 204
    with db.new_session(app) as s:
        assert s.scalar(select(Customer.entry_page)) == long_page[:512]  # a long URL is cut, not refused


def test_an_unknown_widget_is_404_in_json(client, web):
    resp = client.post("/widget/no-such-widget/visitor", json={})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    assert client.post("/widget/acme-oa/visitor", json={}).status_code == 404  # a WeChat channel's key
    assert client.get("/widget/acme-web/nothing-here").get_json()["error"]["code"] == "not_found"


def test_a_shopper_writing_too_fast_is_told_to_wait_and_nothing_more_is_stored(app, client, web):
    shopper = visitor(client)
    answers = [write(client, shopper, f"第{i}条").status_code for i in range(31)]
    assert answers == [201] * 30 + [429]
    refused = write(client, shopper, "再来一条")
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.get_json()["error"]["code"] == "too_many_requests"
    assert stored(app)[1] == 30 + _bot_answers(app)
    other = visitor(client)  # another shopper is not held up
    assert write(client, other, "你好").status_code == 201


def _bot_answers(app) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(func.count()).select_from(Message).where(Message.direction == "out"))


def test_one_address_may_not_make_visitors_without_end(app, client, web):
    codes = [client.post("/widget/acme-web/visitor", json={}).status_code for _ in range(31)]
    assert codes == [200] * 30 + [429]
    assert client.post("/widget/acme-web/visitor", json={},
                       environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 200
    # a kept token checked at each page load is not a new visitor: 40 page loads pass
    token = client.post("/widget/acme-web/visitor", json={}, environ_base={"REMOTE_ADDR": "10.0.0.8"}).get_json()
    assert {client.post("/widget/acme-web/visitor", json={"token": token["token"]}).status_code
            for _ in range(40)} == {200}


def test_concurrent_copies_of_a_send_across_processes_are_stored_once(database_url, real_redis_url):
    app = make_app(database_url, real_redis_url)
    widget_shop(app)
    copies = 8
    with gunicorn(app_env(database_url, real_redis_url), workers=4) as base:
        tokens = [requests.post(f"{base}/widget/acme-web/visitor", json={}, timeout=10).json()["token"]
                  for _ in range(3)]
        sends = [(token, f"client-{i:04d}", f"消息{i}") for i, token in enumerate(tokens)]
        start = threading.Barrier(len(sends) * copies)

        def send(item):
            token, client_id, text = item
            start.wait()
            return requests.post(f"{base}/widget/acme-web/messages", timeout=30,
                                 headers={"Authorization": f"Bearer {token}"},
                                 json={"client_id": client_id, "text": text})

        with ThreadPoolExecutor(len(sends) * copies) as pool:
            results = [f.result() for f in [pool.submit(send, s) for s in sends for _ in range(copies)]]
    assert {r.status_code for r in results} <= {200, 201} and sum(r.status_code == 201 for r in results) >= 3
    by_send = {}
    for r in results:
        by_send.setdefault(r.json()["message"]["client_id"], set()).add(r.json()["message"]["id"])
    assert all(len(ids) == 1 for ids in by_send.values()) and len(by_send) == 3  # every copy names one message
    with db.new_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.direction == "in")) == 3
        assert s.scalar(select(func.count()).select_from(InboundReceipt)) == 3
        assert s.scalar(select(func.count()).select_from(Customer)) == 3
    db.dispose(app)


def test_the_token_in_a_query_string_opens_the_event_stream_only(app, client, web):
    token = visitor(client)["Authorization"][7:]
    assert client.get(f"/widget/acme-web/state?token={token}").status_code == 401  # logs keep queries
    assert client.get(f"/widget/acme-web/events?token={token}&max_seconds=0.2").status_code == 200


def test_reading_the_state_is_limited_too(app, client, web):
    shopper = visitor(client)
    codes = [client.get("/widget/acme-web/state", headers=shopper).status_code for _ in range(61)]
    assert codes == [200] * 60 + [429]
