"""A send cut off between calling WeChat and recording its answer ends `unknown`, visibly.

A worker killed mid-send is played as a dead worker leaves it: the row `sending` with its
claim run out. The sweep ends it `unknown` and sends nothing (WeChat may have it already);
its window slot stays spent; only the agent's explicit retry sends it again. The real kills
(SIGKILL of RQ workers during slow sends) are bench/faults/kill_sends.py.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from bridge import delivery
from bridge.channels.runtime import adapter_for
from bridge.infra import db, tasks
from bridge.events.log import Listener
from bridge.media.uploads import MediaUploads
from bridge.models import Customer, Message, Shop
from tests.conftest import make_app
from tests.factories import login
from tests.test_delivery import Desk, customer_quota, redelivered, run_jobs, set_message

PAST = timedelta(seconds=1)


@pytest.fixture
def app(database_url, redis_url, fake_wechat):
    app = make_app(database_url, redis_url, fake_wechat.url, DELIVERY_STALE_SECONDS=0)
    yield app
    db.dispose(app)


@pytest.fixture
def desk(app, client) -> Desk:
    return Desk.open(app, client)


def killed_mid_send(desk, openid: str, text: str) -> tuple[int, int]:
    """A reply whose worker died holding it: claimed, its slot spent, the claim run out."""
    cid = desk.shopper_writes(openid)
    posted = desk.reply(cid, text)
    set_message(desk.app, posted["id"], delivery="sending", attempts=1,
                claimed_until=datetime.now(timezone.utc) - PAST)
    with db.new_session(desk.app) as session:  # the slot the dead attempt took
        session.execute(update(Customer).where(Customer.external_id == openid)
                        .values(window_quota=Customer.window_quota - 1))
        session.commit()
    return cid, posted["id"]


def retry(desk, cid: int, mid: int, headers: dict | None = None):
    return desk.client.post(f"/api/v1/conversations/{cid}/messages/{mid}/retry",
                            headers=headers or desk.headers)


def test_killed_send_ends_unknown_keeps_its_slot_and_is_not_sent_again(desk, fake_wechat):
    cid, mid = killed_mid_send(desk, "o-cut", "maybe arrived")
    quota = customer_quota(desk.app, "o-cut")

    with desk.app.app_context():
        assert redelivered() == 0
        tasks.enqueue_delivery(mid, "agent")  # RQ's own retry of the dead job, say
        assert redelivered() == 0  # a second sweep finds nothing either
    run_jobs(desk.app)

    assert fake_wechat.sent() == []
    shown = desk.delivery(cid, mid)
    assert shown["state"] == "unknown"
    assert shown["error"]["code"] == "interrupted" and "may or may not" in shown["error"]["message"]
    assert customer_quota(desk.app, "o-cut") == quota  # possibly spent at WeChat: kept spent


def test_the_agent_is_told_at_once_that_the_send_may_not_have_arrived(desk, fake_wechat):
    cid, mid = killed_mid_send(desk, "o-told", "told")
    with db.new_session(desk.app) as session:
        shop_id = session.scalar(select(Shop.id).where(Shop.key == "acme"))
    listener = Listener(desk.app.extensions["redis"], shop_id)
    with desk.app.app_context():
        redelivered()

    heard, deadline = [], time.monotonic() + 10  # the deadline only bounds a failure
    while not any(e["type"] == "message.updated" for e in heard):
        assert time.monotonic() < deadline, f"not heard: {heard}"
        heard.extend(listener.events(timeout=0.2))
    event = next(e for e in heard if e["type"] == "message.updated")
    assert event["conversation_id"] == cid and event["message"]["id"] == mid
    assert event["message"]["delivery"]["state"] == "unknown"
    assert event["message"]["delivery"]["error"]["code"] == "interrupted"


def test_a_live_workers_claim_is_left_alone(desk, fake_wechat):
    cid = desk.shopper_writes("o-live")
    posted = desk.reply(cid, "in flight")
    set_message(desk.app, posted["id"], delivery="sending", attempts=1,
                claimed_until=datetime.now(timezone.utc) + timedelta(minutes=5))
    with desk.app.app_context():
        redelivered()
    assert desk.delivery(cid, posted["id"])["state"] == "sending"


def test_agent_retry_sends_an_unknown_reply_once_with_a_slot_of_its_own(desk, fake_wechat):
    cid, mid = killed_mid_send(desk, "o-again", "once more")
    with desk.app.app_context():
        redelivered()
    quota = customer_quota(desk.app, "o-again")

    resp = retry(desk, cid, mid)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["delivery"]["state"] == "pending"
    assert resp.get_json()["delivery"]["error"] is None
    again = retry(desk, cid, mid)  # a double click: the row is pending, not unknown
    assert again.status_code == 409 and "pending" in again.get_json()["error"]["message"]
    run_jobs(desk.app)

    assert [b["text"]["content"] for b in fake_wechat.sent()] == ["once more"]
    shown = desk.delivery(cid, mid)
    assert shown["state"] == "sent" and shown["attempts"] == 1
    assert customer_quota(desk.app, "o-again") == quota - 1


def test_retry_is_refused_for_a_sent_row_another_agent_and_an_unknown_id(desk, fake_wechat):
    cid = desk.shopper_writes("o-sent")
    posted = desk.reply(cid, "already there")
    run_jobs(desk.app)
    before = len(fake_wechat.calls)

    sent = retry(desk, cid, posted["id"])
    assert sent.status_code == 409 and "sent" in sent.get_json()["error"]["message"]
    assert retry(desk, cid, 999999).status_code == 404
    inbound = desk.messages(cid)[0]
    assert inbound["direction"] == "in" and retry(desk, cid, inbound["id"]).status_code == 404
    set_message(desk.app, posted["id"], delivery="unknown")
    bob = login(desk.client, "bob")
    assert retry(desk, cid, posted["id"], bob).status_code == 403
    run_jobs(desk.app)

    assert len(fake_wechat.calls) == before
    assert desk.delivery(cid, posted["id"])["state"] == "unknown"


def test_a_slow_worker_whose_claim_ran_out_still_records_what_wechat_answered(desk, fake_wechat):
    """The sweep ends its row unknown mid-send; the worker, alive after all, knows better."""
    cid = desk.shopper_writes("o-slow")
    posted = desk.reply(cid, "slowly")
    app = desk.app

    def adapter_then_sweep(channel):
        adapter = adapter_for(app, channel)
        send = adapter.send

        def send_while_swept(message):
            later = datetime.now(timezone.utc) + timedelta(seconds=delivery.CLAIM_SECONDS + 1)
            with db.new_session(app) as other:
                assert delivery.end_interrupted(other, later) == [posted["id"]]
            return send(message)
        adapter.send = send_while_swept
        return adapter

    with app.app_context(), db.new_session(app) as session:
        uploads = MediaUploads(app.extensions["media_store"], app.extensions["redis"])
        outcome = delivery.deliver(session, posted["id"], adapter_then_sweep,
                                   datetime.now(timezone.utc), uploads)
    assert outcome.state == "sent"
    assert len(fake_wechat.sent()) == 1
    with db.new_session(app) as session:
        row = session.scalar(select(Message).where(Message.id == posted["id"]))
        assert (row.delivery, row.error_code) == ("sent", None)
