"""Outreach (主动发起会话): an agent writes first to a shopper who ordered or wrote in the last 30
days — inside the WeChat window as a customer-service message, outside it as the channel's
template notice (an OA template message; a Mini Program subscribe message only with the
shopper's consent), otherwise a refusal naming the rule; every outreach is kept with its agent."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from adapters.wechat.mp_push import text_push
from bridge.infra import db
from bridge.models import Channel, Customer
from tests.factories import BASE_SHOP, load_shop, login, post_acme, shop_doc, text_xml
from tests.shop_data_kit import api_key, load, order
from tests.test_delivery import run_jobs
from tests.test_mp_webhook import CHANNELS as MP_CHANNELS
from tests.test_mp_webhook import MP_APP, MP_SECRET, push

TEMPLATE = {"template_id": "TPL-kefu", "url": "https://shop.example/kefu",
            "fields": {"first": "{shop}的客服{agent}给您留言", "keyword1": "{text}", "remark": "点击查看"}}


@pytest.fixture
def reaching(app, client, fake_wechat):
    fake_wechat.register_app(MP_APP, MP_SECRET)
    channels = copy.deepcopy(BASE_SHOP["channels"]) + copy.deepcopy(MP_CHANNELS[:1])
    channels[0]["outreach_template"] = TEMPLATE
    channels[2]["outreach_template"] = {"template_id": "SUB-1", "page": "pages/kefu/kefu",
                                        "fields": {"thing1": "{text}"}}
    load_shop(app, shop_doc(channels=channels))
    alice = login(client)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})
    return alice


def _ended_chat(app, client, alice, openid: str, via=None) -> int:
    (via or (lambda: post_acme(client, text_xml(openid, "在吗"))))()
    run_jobs(app)
    row = next(r for r in client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
               if r["customer"]["external_id"] == openid)
    client.post(f"/api/v1/conversations/{row['id']}/end", headers=alice)
    run_jobs(app)
    return row["customer"]["id"]


def _age(app, customer_id: int, **changes) -> None:
    with db.new_session(app) as session:
        session.execute(update(Customer).where(Customer.id == customer_id).values(**changes))
        session.commit()


def test_inside_the_window_the_agent_writes_as_in_any_chat(app, client, reaching, fake_wechat):
    alice = reaching
    customer_id = _ended_chat(app, client, alice, "o-back")
    before = len(fake_wechat.sent("o-back"))
    resp = client.post("/api/v1/outreach", headers=alice, json={"customer_id": customer_id, "text": "您的订单已发货"})
    assert resp.status_code == 201, resp.get_json()
    done = resp.get_json()
    assert done["how"] == "message" and done["message"]["type"] == "text"
    run_jobs(app)
    sent = fake_wechat.sent("o-back")[before:]
    assert [m["text"]["content"] for m in sent] == ["您的订单已发货"]  # no welcome before the agent's words
    chat = client.get(f"/api/v1/conversations/{done['conversation_id']}", headers=alice).get_json()
    assert (chat["state"], chat["agent"]["username"]) == ("active", "alice")
    [kept] = client.get("/api/v1/outreach", headers=alice).get_json()["items"]
    assert (kept["agent"]["username"], kept["how"], kept["customer_id"]) == ("alice", "message", customer_id)
    assert client.get("/api/v1/outreach", headers=login(client, "bob")).get_json()["items"] == []  # not bob's


def test_outside_the_window_the_official_account_sends_its_template(app, client, reaching, fake_wechat):
    alice = reaching
    customer_id = _ended_chat(app, client, alice, "o-late")
    _age(app, customer_id, window_expires_at=datetime.now(timezone.utc) - timedelta(hours=1))
    resp = client.post("/api/v1/outreach", headers=alice, json={"customer_id": customer_id, "text": "优惠券快过期了"})
    assert resp.status_code == 201 and resp.get_json()["how"] == "template"
    run_jobs(app)
    [call] = [c.json for c in fake_wechat.calls if c.path == "/cgi-bin/message/template/send"]
    assert call == {"touser": "o-late", "template_id": "TPL-kefu", "url": "https://shop.example/kefu",
                    "data": {"first": {"value": "Acme 旗舰店的客服Alice给您留言"},
                             "keyword1": {"value": "优惠券快过期了"}, "remark": {"value": "点击查看"}}}
    said = client.get(f"/api/v1/conversations/{resp.get_json()['conversation_id']}/messages", headers=alice)
    assert [(m["type"], m["delivery"]["state"]) for m in said.get_json()["items"]][-1] == ("template", "sent")


def test_a_mini_program_shopper_is_reached_outside_the_window_only_with_consent(app, client, reaching, fake_wechat):
    alice = reaching
    key = api_key(app)
    customer_id = _ended_chat(app, client, alice, "o-mini", via=lambda: push(client, text_push("o-mini", "在吗")))
    _age(app, customer_id, window_expires_at=datetime.now(timezone.utc) - timedelta(hours=1))
    body = {"customer_id": customer_id, "text": "到货了"}
    refused = client.post("/api/v1/outreach", headers=alice, json=body)
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "no_consent"
    consent = {"items": [{"openids": {"acme-mp": "o-mini"}, "template_id": "SUB-1"}]}
    assert client.post("/api/v1/shop-data/consents", headers=key, json=consent).get_json() == {"recorded": 1}
    assert client.post("/api/v1/outreach", headers=alice, json=body).get_json()["how"] == "template"
    run_jobs(app)
    [call] = [c.json for c in fake_wechat.calls if c.path == "/cgi-bin/message/subscribe/send"]
    assert call == {"touser": "o-mini", "template_id": "SUB-1", "page": "pages/kefu/kefu",
                    "data": {"thing1": {"value": "到货了"}}}
    # One acceptance, one message; the active conversation is hers now, so end it to try again.
    chat = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"][0]
    client.post(f"/api/v1/conversations/{chat['id']}/end", headers=alice)
    assert client.post("/api/v1/outreach", headers=alice, json=body).get_json()["error"]["code"] == "no_consent"
    bad = {"items": [{"openids": {"acme-oa": "o-mini"}, "template_id": "SUB-1"}]}
    assert client.post("/api/v1/shop-data/consents", headers=key, json=bad).status_code == 422


def test_refusals_name_the_rule(app, client, reaching):
    alice = reaching
    # No template on this channel, window closed.
    quiet = _ended_chat(app, client, alice, "o-quiet", via=lambda: post_acme(client, text_xml("o-quiet", "在吗")))
    with db.new_session(app) as session:
        safe = session.query(Channel).filter_by(key="acme-safe").one()
        session.execute(update(Customer).where(Customer.id == quiet).values(
            channel_id=safe.id, window_expires_at=datetime.now(timezone.utc) - timedelta(hours=1)))
        session.commit()
    old = _ended_chat(app, client, alice, "o-old")
    _age(app, old, last_inbound_at=datetime.now(timezone.utc) - timedelta(days=40))
    blocked = _ended_chat(app, client, alice, "o-blocked")
    client.put(f"/api/v1/customers/{blocked}/block", headers=alice, json={"reason": "spam"})
    post_acme(client, text_xml("o-bobs", "在吗"))
    bob = login(client, "bob")
    client.patch("/api/v1/me", headers=alice, json={"status": "offline"})
    client.patch("/api/v1/me", headers=bob, json={"status": "online"})
    run_jobs(app)
    bobs = next(r for r in client.get("/api/v1/conversations?state=active", headers=bob).get_json()["items"]
                if r["customer"]["external_id"] == "o-bobs")["customer"]["id"]
    for customer_id, code in ((quiet, "window_closed"), (old, "not_recent"), (blocked, "blocked"), (bobs, "taken")):
        resp = client.post("/api/v1/outreach", headers=alice, json={"customer_id": customer_id, "text": "你好"})
        assert (resp.status_code, resp.get_json()["error"]["code"]) == (409, code), (customer_id, resp.get_json())
    assert client.get("/api/v1/outreach", headers=alice).get_json()["items"] == []
    mallory = login(client, "mallory", shop="other")
    assert client.post("/api/v1/outreach", headers=mallory, json={"customer_id": old, "text": "x"}).status_code == 404
    for body in ({"customer_id": old}, {"customer_id": old, "text": ""}, {"customer_id": "1", "text": "x"},
                 {"customer_id": old, "text": "x", "cc": 1}):
        assert client.post("/api/v1/outreach", headers=alice, json=body).status_code in (404, 422)


def test_a_buyer_is_found_by_order_number_even_before_they_ever_wrote(app, client, reaching):
    alice = reaching
    load(client, api_key(app), [order("N-77", openid="o-never-wrote", days=3)])
    [found] = client.get("/api/v1/outreach/candidates", headers=alice, query_string={"q": "N-77"}).get_json()["items"]
    assert found["customer"]["external_id"] == "o-never-wrote" and found["how"] == "template"  # ordered, never wrote
    load(client, api_key(app), [order("N-78", openid="o-long-ago", days=60)])
    [stale] = client.get("/api/v1/outreach/candidates", headers=alice, query_string={"q": "N-78"}).get_json()["items"]
    assert stale["how"] is None and stale["refused"]["code"] == "not_recent"
    assert client.get("/api/v1/outreach/candidates", headers=alice, query_string={"q": ""}).status_code == 422


def test_a_shopper_waiting_in_the_queue_is_left_to_routing(app, client, reaching):
    alice = reaching
    customer_id = _ended_chat(app, client, alice, "o-queued")
    client.patch("/api/v1/me", headers=alice, json={"status": "offline"})
    post_acme(client, text_xml("o-queued", "还在吗"))  # taken for an answer to the rating card: a hint
    post_acme(client, text_xml("o-queued", "有人吗"))  # nobody online: a leave-a-message, waiting
    run_jobs(app)
    client.patch("/api/v1/me", headers=login(client, "bob"), json={"status": "busy"})
    resp = client.post("/api/v1/outreach", headers=alice, json={"customer_id": customer_id, "text": "您好"})
    assert (resp.status_code, resp.get_json()["error"]["code"]) == (409, "waiting")
    _age(app, customer_id, subscribed=False)  # the channel's rule comes before the conversation's
    resp = client.post("/api/v1/outreach", headers=alice, json={"customer_id": customer_id, "text": "您好"})
    assert (resp.status_code, resp.get_json()["error"]["code"]) == (409, "not_subscribed")

