"""Blocking a shopper (拉黑): an agent blocks with a reason and what the shopper had open ends,
without a rating card; the blocked shopper's messages are stored but neither answered by
keyword nor routed nor counted in the response figures, on WeChat and in the widget; admins
list blocks and lift them, after which the shopper is served again."""
from __future__ import annotations

from sqlalchemy import select

from bridge.infra import db
from bridge.models import Conversation, Customer, Message
from tests.factories import login, post_acme, text_xml
from tests.test_delivery import run_jobs


def _serving(app, client):
    alice = login(client)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})
    post_acme(client, text_xml("o-spam", "加我微信领红包"))
    run_jobs(app)
    [row] = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
    return alice, row


def _messages_of(app, external_id: str) -> list[Message]:
    with db.new_session(app) as session:
        customer = session.scalar(select(Customer).where(Customer.external_id == external_id))
        return list(session.scalars(select(Message).join(Conversation).where(
            Conversation.customer_id == customer.id).order_by(Message.id)))


def test_a_blocked_shopper_is_kept_but_not_answered_routed_or_counted(app, client, shop, fake_wechat):
    alice, row = _serving(app, client)
    bob = login(client, "bob")
    customer_id = row["customer"]["id"]
    resp = client.put(f"/api/v1/customers/{customer_id}/block", headers=alice, json={"reason": "广告骚扰"})
    assert resp.status_code == 200 and resp.get_json()["blocked"]["reason"] == "广告骚扰"
    run_jobs(app)
    ended = client.get(f"/api/v1/conversations/{row['id']}", headers=alice).get_json()
    assert ended["state"] == "ended"
    sent = [m.get("text", {}).get("content", "") for m in fake_wechat.sent("o-spam")]
    assert not any("评分" in text for text in sent)  # no rating card for a blocked shopper
    # A keyword that answers anyone else: nothing back (success), nothing routed, all kept.
    assert post_acme(client, text_xml("o-spam", "发货了吗")).get_data(as_text=True) == "success"
    assert post_acme(client, text_xml("o-fine", "发货了吗")).get_data(as_text=True) != "success"
    run_jobs(app)
    said = _messages_of(app, "o-spam")
    assert [m.text for m in said if m.direction == "in"] == ["加我微信领红包", "发货了吗"]
    assert said[-1].expects_reply is False and said[-1].sender == "customer"
    assert all(c["customer"]["external_id"] != "o-spam"
               for c in client.get("/api/v1/conversations?state=queued", headers=bob).get_json()["items"])
    assert client.get(f"/api/v1/customers/{customer_id}", headers=alice).get_json()["blocked"]["reason"] == "广告骚扰"
    # Admins see the block and lift it; an agent may not.
    assert client.get("/api/v1/blocks", headers=bob).status_code == 403
    [listed] = client.get("/api/v1/blocks", headers=alice).get_json()["items"]
    assert (listed["customer"]["external_id"], listed["by"]["username"]) == ("o-spam", "alice")
    assert client.delete(f"/api/v1/customers/{customer_id}/block", headers=bob).status_code == 403
    assert client.delete(f"/api/v1/customers/{customer_id}/block", headers=alice).status_code == 204
    assert client.get("/api/v1/blocks", headers=alice).get_json()["items"] == []
    assert "48小时内发货" in post_acme(client, text_xml("o-spam", "发货了吗？")).get_data(as_text=True)


def test_blocking_needs_a_reason_and_a_shopper_of_ones_own_shop(app, client, shop):
    alice, row = _serving(app, client)
    url = f"/api/v1/customers/{row['customer']['id']}/block"
    for body in ({}, {"reason": ""}, {"reason": "x" * 201}, {"reason": "spam", "until": "never"}):
        assert client.put(url, headers=alice, json=body).status_code == 422
    mallory = login(client, "mallory", shop="other")
    assert client.put(url, headers=mallory, json={"reason": "spam"}).status_code == 404
    assert client.get(f"/api/v1/customers/{row['customer']['id']}", headers=alice).get_json()["blocked"] is None


def test_a_blocked_widget_shopper_is_kept_and_not_served(app, client, web):
    from tests.widget_kit import user, write

    alice = login(client)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})
    headers = user(client, "u-spam")
    assert write(client, headers, "你好").status_code == 201
    run_jobs(app)
    [row] = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
    client.put(f"/api/v1/customers/{row['customer']['id']}/block", headers=alice, json={"reason": "辱骂"})
    assert write(client, headers, "发货").status_code == 201  # kept
    run_jobs(app)
    said = _messages_of(app, "u_u-spam")
    assert [m.text for m in said if m.direction == "in"] == ["你好", "发货"]
    assert not any(m.sender == "bot" for m in said)
    assert client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"] == []
