"""The widget's API (docs/widget.md) on SQLite and PostgreSQL: who the shopper is, a message
stored once per client id, what the shopper sees (history, the robot's and the agent's answers,
the notices) and live over its feed with Last-Event-ID, routing by the page's scene, the rating
card answered with stars, images, typing both ways, and a token good for its own shopper only."""
from __future__ import annotations

import base64
import io

from sqlalchemy import func, select

from adapters.widget.identity import user_hash
from bridge.events.log import Listener
from bridge.infra import db
from bridge.models import Conversation, Customer, InboundReceipt, Message
from tests.factories import login
from tests.test_delivery import run_jobs
from tests.widget_kit import SECRET, STRICT_SECRET, sse, state, user, visitor, write

PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQ"
                       "AAAABJRU5ErkJggg==")


def count(app, model, *where) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(func.count()).select_from(model).where(*where))


def serve(client) -> dict:
    alice = login(client)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})
    return alice


def test_a_send_and_its_retry_store_one_message(app, client, web):
    shopper = visitor(client)
    first = write(client, shopper, "你好", client_id="send-0001")
    again = write(client, shopper, "你好", client_id="send-0001")
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.get_json()["message"] == again.get_json()["message"]
    assert first.get_json()["message"]["from"] == "me" and first.get_json()["message"]["client_id"] == "send-0001"
    assert count(app, Message, Message.direction == "in") == 1
    assert count(app, InboundReceipt) == 1


def test_the_robot_answers_in_the_widget_through_the_feed(app, client, web):
    shopper = visitor(client)
    position = state(client, shopper)["position"]
    write(client, shopper, "什么时候发货")
    run_jobs(app)
    events = [(t, d["from"], d["text"]) for _, t, d in sse(client, shopper, last_event_id=position) if t != "ready"]
    assert events == [("message", "me", "什么时候发货"), ("message", "bot", "48小时内发货")]
    assert [(m["from"], m["text"]) for m in state(client, shopper)["messages"]] == \
        [("me", "什么时候发货"), ("bot", "48小时内发货")]


def test_an_agents_reply_arrives_live_and_a_reconnect_gets_only_what_it_missed(app, client, web):
    alice, shopper = serve(client), visitor(client)
    write(client, shopper, "在吗")
    run_jobs(app)
    seen = sse(client, shopper, last_event_id="0-0")
    last = seen[-1][0]
    assert [d.get("notice") for _, t, d in seen if t == "message"] == [None, "welcome"]
    assert seen[-1][2]["name"] == "Alice"
    [row] = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
    client.post(f"/api/v1/conversations/{row['id']}/messages", headers=alice,
                json={"type": "text", "text": "亲，在的 <b>"})
    run_jobs(app)
    ready, *missed = sse(client, shopper, last_event_id=last)
    assert ready == (last, "ready", {})  # its id: where the stream starts
    assert [(t, d["from"], d["name"], d["text"]) for _, t, d in missed] == \
        [("message", "agent", "Alice", "亲，在的 <b>")]
    assert sse(client, shopper, last_event_id=missed[-1][0]) == [(missed[-1][0], "ready", {})]  # nothing twice
    conversation = state(client, shopper)["conversation"]
    assert conversation == {"state": "active", "agent": {"name": "Alice"}, "queue_position": None}


def test_an_id_the_feed_no_longer_holds_is_a_reset(app, client, web):
    shopper = visitor(client)
    write(client, shopper, "你好")
    [(_, kind, _)] = sse(client, shopper, last_event_id="99999999999999-0")
    assert kind == "reset"
    [(_, kind, _)] = sse(client, shopper, last_event_id="not-an-id")
    assert kind == "reset"


def test_a_token_shows_its_own_shopper_only(app, client, web):
    one, other = visitor(client), visitor(client)
    write(client, one, "我的订单号是 2026120400012")
    run_jobs(app)
    assert state(client, other)["messages"] == [] and state(client, other)["conversation"] is None
    assert [e[1] for e in sse(client, other, last_event_id="0-0")] == ["ready"]


def test_forged_and_foreign_tokens_are_refused(app, client, web):
    token = visitor(client)["Authorization"]
    forged = token[:-4] + ("0000" if not token.endswith("0000") else "1111")
    for headers in ({"Authorization": forged}, {}, {"Authorization": "Bearer w1.a.b"}):
        assert client.get("/widget/acme-web/state", headers=headers).status_code == 401
        assert write(client, headers, "x").status_code == 401
    # acme-web's token on another widget channel of the same shop
    assert client.get("/widget/acme-strict/state", headers={"Authorization": token,
                                                            "Origin": "https://shop.acme.example"}).status_code == 401
    assert count(app, Message) == 0


def test_a_logged_in_shopper_is_known_by_the_hmac_of_their_id(app, client, web):
    shopper = user(client, "u-1001", name="王小姐")
    write(client, shopper, "我是会员")
    with db.new_session(app) as s:
        customer = s.scalar(select(Customer).where(Customer.external_id == "u_u-1001"))
        assert customer.nickname == "王小姐"
    again = user(client, "u-1001")  # another device, the same user: the same conversation
    assert [m["text"] for m in state(client, again)["messages"]] == ["我是会员"]


def test_a_wrong_hash_is_refused_and_stores_nothing(app, client, web):
    for body in ({"user": "u-1001", "hash": user_hash(SECRET, "u-1002")},
                 {"user": "u-1001", "hash": user_hash("another-secret-0000000", "u-1001")},
                 {"user": "u-1001", "hash": ""}, {"user": "u-1001"}, {"user": "u-1001", "hash": 7}):
        resp = client.post("/widget/acme-web/visitor", json=body)
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "identity_refused", body
    assert client.post("/widget/acme-web/visitor", json={"user": "", "hash": ""}).status_code == 422
    assert count(app, Customer) == 0


def test_a_shop_that_requires_identity_refuses_anonymous_visitors(app, client, web):
    origin = {"Origin": "https://shop.acme.example"}
    resp = client.post("/widget/acme-strict/visitor", json={}, headers=origin)
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "identity_required"
    shopper = user(client, "u-7", channel="acme-strict", secret=STRICT_SECRET, **origin)
    assert write(client, shopper, "在吗", channel="acme-strict").status_code == 201


def test_only_the_channels_origins_may_call_it(app, client, web):
    allowed, other = {"Origin": "https://shop.acme.example"}, {"Origin": "https://evil.example"}
    pre = client.options("/widget/acme-strict/messages", headers={
        **allowed, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})
    assert pre.status_code == 200
    assert pre.headers["Access-Control-Allow-Origin"] == "https://shop.acme.example"
    assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Credentials" not in pre.headers
    refused = client.options("/widget/acme-strict/messages", headers={**other, "Access-Control-Request-Method": "POST"})
    assert refused.status_code == 403 and "Access-Control-Allow-Origin" not in refused.headers
    resp = client.post("/widget/acme-strict/visitor", headers=other,
                       json={"user": "u-7", "hash": user_hash("acme-strict-secret-0123456789", "u-7")})
    assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "origin_not_allowed"
    # a channel with no list takes any origin
    assert client.post("/widget/acme-web/visitor", headers=other, json={}).headers[
        "Access-Control-Allow-Origin"] == "https://evil.example"
    # the script itself is for any page
    assert client.get("/widget/acme-strict/widget.js", headers=other).status_code == 200
    assert client.get("/widget/no-such/widget.js").status_code == 404
    assert count(app, Customer) == 0


def test_the_pages_scene_routes_the_shopper_and_the_agent_sees_the_context(app, client, web):
    alice = serve(client)
    login_bob = login(client, "bob")
    client.patch("/api/v1/me", headers=login_bob, json={"status": "online"})
    shopper = visitor(client)
    assert client.post("/widget/acme-web/context", headers=shopper, json={
        "scene": "vip", "product": "P100", "order": "E2026", "page": "https://shop.acme.example/p/100"
    }).status_code == 204
    write(client, shopper, "在吗")
    run_jobs(app)
    with db.new_session(app) as s:
        conversation = s.scalar(select(Conversation))
        assert conversation.agent_id == web.agents["alice"].id  # presales: alice alone
    customer = client.get(f"/api/v1/customers/{conversation.customer_id}", headers=alice).get_json()
    assert customer["entry"] == {"scene": "vip", "menu": None, "product": "P100", "order": "E2026",
                                 "page": "https://shop.acme.example/p/100"}


def test_the_rating_card_is_answered_with_stars_and_thanked_by_name(app, client, web):
    alice, shopper = serve(client), visitor(client)
    write(client, shopper, "在吗")
    run_jobs(app)
    [row] = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
    client.post(f"/api/v1/conversations/{row['id']}/end", headers=alice)
    run_jobs(app)
    assert state(client, shopper)["messages"][-1]["notice"] == "rating"
    resp = client.post("/widget/acme-web/rating", headers=shopper,
                       json={"score": 5, "comment": "很专业", "client_id": "rate-0001"})
    assert resp.status_code == 201
    run_jobs(app)
    with db.new_session(app) as s:
        rated = s.get(Conversation, row["id"])
        assert (rated.rating_score, rated.rating_comment) == (5, "很专业")
    thanks = state(client, shopper)["messages"][-1]
    assert thanks["notice"] == "thanks" and thanks["from"] == "system"
    for bad in (0, 6, "5", True, 4.5, None):
        assert client.post("/widget/acme-web/rating", headers=shopper,
                           json={"score": bad, "client_id": "rate-0002"}).status_code == 422


def test_an_image_is_stored_shown_by_a_signed_url_and_sent_once(app, client, web):
    shopper = visitor(client)

    def send():
        return client.post("/widget/acme-web/messages", headers=shopper, content_type="multipart/form-data",
                           data={"client_id": "image-0001", "image": (io.BytesIO(PNG), "a.png")})
    first, again = send(), send()
    assert (first.status_code, again.status_code) == (201, 200)
    url = first.get_json()["message"]["image_url"]
    assert url.startswith("media/")  # relative to the widget's base: behind a proxy, Host is not the public one
    path = "/widget/acme-web/" + url
    got = client.get(path)
    assert got.status_code == 200 and got.data == PNG and got.mimetype == "image/png"
    assert client.get(path[:-4] + "0000").status_code == 404
    assert count(app, Message, Message.type == "image") == 1
    with db.new_session(app) as s:
        assert s.scalar(select(Message.media)).get("sha256")


def test_typing_shows_both_ways(app, client, web):
    alice, shopper = serve(client), visitor(client)
    write(client, shopper, "在吗")
    run_jobs(app)
    [row] = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
    listener = Listener(app.extensions["redis"], web.id)
    assert client.post("/widget/acme-web/typing", headers=shopper, json={"typing": True}).status_code == 204
    typed = [e for e in listener.events(0.5) if e["type"] == "customer.typing"]
    assert typed and typed[0]["typing"] is True and typed[0]["conversation_id"] == row["id"]
    position = state(client, shopper)["position"]
    assert client.post(f"/api/v1/conversations/{row['id']}/typing", headers=alice).status_code == 200
    run_jobs(app)
    assert [(t, d) for _, t, d in sse(client, shopper, last_event_id=position)][1:] == [("typing", {"typing": True})]
    assert client.post("/widget/acme-web/typing", headers=shopper, json={"typing": "yes"}).status_code == 422


def test_a_send_holds_no_database_transaction(app, client, web):
    """The agent's name the widget shows is read with the claim, before its commit: read after
    it, it opened a transaction held across the channel's network call — in make run, where the
    demo's WeChat is served by the same process, the stand-in waited for SQLite's writer and
    every reply timed out."""
    from datetime import datetime, timezone

    from bridge import delivery
    from bridge.media.uploads import MediaUploads

    alice, shopper = serve(client), visitor(client)
    write(client, shopper, "在吗")
    run_jobs(app)
    [row] = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
    reply = client.post(f"/api/v1/conversations/{row['id']}/messages", headers=alice,
                        json={"type": "text", "text": "在的"}).get_json()
    sent = []

    class Watching:
        def send(self, out):
            sent.append((session.in_transaction(), out.sender_name, out.text))

    with app.app_context(), db.new_session(app) as session:
        outcome = delivery.deliver(session, reply["id"], lambda channel: Watching(), datetime.now(timezone.utc),
                                   MediaUploads(app.extensions["media_store"], app.extensions["redis"]))
    assert outcome.state == "sent" and sent == [(False, "Alice", "在的")]


def test_no_users_hash_is_the_token_key(app, client, web):
    """A user's hash and the tokens' key are both HMACs under the channel's secret: were the key's
    message a user id a shop could vouch for, that user's hash would sign tokens for anyone."""
    from adapters.widget import identity
    for name in ("kefu-widget-token|acme-web", "\0kefu-widget-token|acme-web"):
        leaked = bytes.fromhex(user_hash(SECRET, name))
        body = "w1." + base64.urlsafe_b64encode(b"u_victim").decode().rstrip("=") + "."
        forged = body + "." + __import__("hmac").new(leaked, body.encode(), "sha256").hexdigest()
        assert client.get("/widget/acme-web/state", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
    assert identity.verify(SECRET, "acme-web", visitor(client)["Authorization"][7:]).shopper_id.startswith("v_")


def test_a_head_request_takes_no_stream_slot(app, client, web):
    shopper, slots = visitor(client), app.extensions["stream_slots"]
    for _ in range(3):
        assert client.head("/widget/acme-web/events", headers=shopper).status_code == 200
    assert slots._held == 0
    sse(client, shopper, seconds=0.2)
    assert slots._held == 0


def test_widget_streams_of_an_address_are_counted_apart_from_the_agents(app, client, web):
    """Shoppers behind one address (a carrier's NAT, or every shopper behind a proxy that passes
    no client address) must not take the agents' streams of that address."""
    from bridge import keys
    redis = app.extensions["redis"]
    redis.zadd(keys.streams_of_address("127.0.0.1"), {f"agent-stream-{i}": 9e12 for i in range(100)})
    assert [t for _, t, _ in sse(client, visitor(client), seconds=0.2)] == ["ready"]  # not 429
