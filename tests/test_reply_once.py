"""An agent's send is stored once, however often its page repeats it: the page makes a
`client_id` per message, and the same id again answers with the message stored the first time
(a double click, a retry after a lost answer, requests racing on several server processes)."""
from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from sqlalchemy import func, select

from bridge.infra import db
from bridge.models import Message
from tests.conftest import make_app
from tests.factories import load_shop, login, post_acme, shop_doc, text_xml
from tests.live import app_env, gunicorn

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360000000000200015e2b3a0a0000000049454e44ae426082")


@pytest.fixture
def conversation_id(client, shop) -> int:
    """A shopper assigned to alice, who is online."""
    post_acme(client, text_xml("o-once", "我想问一下尺码"))
    assert client.patch("/api/v1/me", headers=login(client), json={"status": "online"}).status_code == 200
    [item] = client.get("/api/v1/conversations?state=active", headers=login(client)).get_json()["items"]
    return item["id"]


def replies(client, conversation_id: int) -> list[dict]:
    items = client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=login(client)).get_json()["items"]
    return [m for m in items if m["sender"] == "agent"]


def send(client, conversation_id: int, **body):
    return client.post(f"/api/v1/conversations/{conversation_id}/messages", headers=login(client),
                       json={"type": "text", **body})


def test_the_same_client_id_again_answers_the_first_message(client, conversation_id):
    first = send(client, conversation_id, text="您好，在的", client_id="c-7f3a")
    again = send(client, conversation_id, text="您好，在的", client_id="c-7f3a")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert first.get_json()["client_id"] == "c-7f3a"
    [stored] = replies(client, conversation_id)
    assert stored["id"] == first.get_json()["id"] and stored["client_id"] == "c-7f3a"


def test_without_a_client_id_each_request_is_a_message(client, conversation_id):
    assert [send(client, conversation_id, text="好的").status_code for _ in range(2)] == [201, 201]
    assert [m["text"] for m in replies(client, conversation_id)] == ["好的", "好的"]
    assert [m["client_id"] for m in replies(client, conversation_id)] == [None, None]


def test_another_message_under_a_used_client_id_is_refused(client, conversation_id):
    assert send(client, conversation_id, text="第一条", client_id="dup").status_code == 201
    resp = send(client, conversation_id, text="第二条", client_id="dup")
    assert resp.status_code == 409 and "client_id" in resp.get_json()["error"]["message"]
    assert [m["text"] for m in replies(client, conversation_id)] == ["第一条"]


def test_a_repeat_after_the_conversation_ended_still_answers_the_stored_message(client, conversation_id):
    """The answer to the first request was lost; by the retry the agent (or the timer) had ended
    the conversation. The message was stored, so the retry is told so, not refused."""
    first = send(client, conversation_id, text="再见", client_id="late-retry")
    assert client.post(f"/api/v1/conversations/{conversation_id}/end", headers=login(client)).status_code == 200
    again = send(client, conversation_id, text="再见", client_id="late-retry")
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]


def test_an_image_sent_twice_under_one_client_id_is_one_message(client, conversation_id):
    def upload():
        return client.post(f"/api/v1/conversations/{conversation_id}/messages", headers=login(client),
                           data={"image": (io.BytesIO(PNG), "a.png"), "client_id": "img-1"},
                           content_type="multipart/form-data")
    first, again = upload(), upload()
    assert (first.status_code, again.status_code) == (201, 200)
    assert [m["id"] for m in replies(client, conversation_id)] == [first.get_json()["id"]]


@pytest.mark.parametrize("client_id", ["", "x" * 65, "含中文", "a b", 42, ["a"], "a/b"])
def test_a_client_id_that_is_not_one_is_refused_and_stores_nothing(client, conversation_id, client_id):
    resp = send(client, conversation_id, text="hi", client_id=client_id)
    assert resp.status_code == 422 and "client_id" in resp.get_json()["error"]["message"]
    assert replies(client, conversation_id) == []


def test_one_client_id_on_two_conversations_is_two_messages(client, shop, conversation_id):
    """The id is the page's for one conversation's send; another conversation is another send."""
    post_acme(client, text_xml("o-once-2", "还有一个问题"))
    [second] = client.get("/api/v1/conversations?state=queued", headers=login(client)).get_json()["items"]
    assert client.post(f"/api/v1/conversations/{second['id']}/accept", headers=login(client)).status_code == 200
    assert send(client, conversation_id, text="好", client_id="shared").status_code == 201
    assert send(client, second["id"], text="好", client_id="shared").status_code == 201
    assert [m["client_id"] for m in replies(client, second["id"])] == ["shared"]


def test_one_send_racing_on_four_processes_is_stored_once(pg_url, real_redis_url):
    """Eight copies of one send, released together against gunicorn with four workers (PostgreSQL,
    Redis): one is 201, the rest 200 with the same message, and one row is stored."""
    app = make_app(pg_url, real_redis_url)
    load_shop(app, shop_doc())
    copies = 8
    with gunicorn(app_env(pg_url, real_redis_url), workers=4) as base:
        with app.test_client() as client:
            post_acme(client, text_xml("o-race", "在吗"))
            headers = login(client)
            assert client.patch("/api/v1/me", headers=headers, json={"status": "online"}).status_code == 200
            [conversation] = client.get("/api/v1/conversations?state=active", headers=headers).get_json()["items"]
        start = threading.Barrier(copies)

        def post(_):
            start.wait()
            return requests.post(f"{base}/api/v1/conversations/{conversation['id']}/messages", headers=headers,
                                 json={"type": "text", "text": "在的，您说", "client_id": "race-1"}, timeout=30)

        with ThreadPoolExecutor(copies) as pool:
            answers = list(pool.map(post, range(copies)))
    assert sorted(r.status_code for r in answers) == [200] * (copies - 1) + [201]
    assert len({r.json()["id"] for r in answers}) == 1
    with db.new_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.client_id == "race-1")) == 1
        assert s.scalar(select(func.count()).select_from(Message).where(Message.sender == "agent")) == 1
    db.dispose(app)
