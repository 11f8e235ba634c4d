"""Agents' replies never wait behind the shop's bulk notices: three RQ queues taken in order,
and a sweep that leaves a job waiting in a backlog alone. Real RQ on real Redis, the fake
WeChat over HTTP.
"""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from rq import Queue

from bridge import delivery
from bridge.infra import db, tasks
from bridge.models import Conversation
from jobs.sweep import sweep
from tests.conftest import make_app
from tests.factories import BurstWorker
from tests.test_delivery import SEND, Desk

NOTICES = 30


@pytest.fixture
def app(database_url, real_redis_url, fake_wechat):
    # Every pending row is stale at once: each sweep looks at every row still to be sent.
    app = make_app(database_url, real_redis_url, fake_wechat.url, DELIVERY_STALE_SECONDS=0)
    yield app
    db.dispose(app)


@pytest.fixture
def desk(app, client) -> Desk:
    return Desk.open(app, client)


def queue(app, name: str) -> Queue:
    return app.extensions["rq_queues"][name]


def deliveries(app, name: str) -> list[str]:
    """The delivery jobs' ids in the queue, in order, a copy as often as it is there (the
    notices queue also carries the daily retention job)."""
    return [j for j in queue(app, name).get_job_ids() if j.startswith("deliver-")]


def work(app) -> None:
    """One burst of a worker as deployed: every queue, in the order tasks.QUEUES gives."""
    with app.app_context():
        BurstWorker(tasks.worker_queues(app), connection=app.extensions["redis"]).work(burst=True)


def notice(app, conversation_id: int, text: str) -> int:
    """A notice row, enqueued as notices.send_notice does after its commit."""
    with db.new_session(app) as session:
        conversation = session.get(Conversation, conversation_id)
        message = delivery.create_outbound(session, conversation, "system", "text", text,
                                           datetime.now(timezone.utc), raw={"notice": "queue"})
        session.commit()
    with app.app_context():
        tasks.enqueue_delivery(message.id, "system")
    return message.id


def test_a_reply_enqueued_after_many_notices_is_sent_first(desk, fake_wechat):
    resp = desk.client.patch("/api/v1/me", headers=desk.headers, json={"max_concurrent": 50})
    assert resp.status_code == 200, resp.get_json()
    *crowd, answered = [desk.shopper_writes(f"o-crowd-{n}") for n in range(NOTICES + 1)]
    work(desk.app)
    for n, cid in enumerate(crowd):  # other shoppers' notices: nothing the reply must follow
        notice(desk.app, cid, f"您前面还有 {n} 位")
    posted = desk.reply(answered, "让您久等了")  # the 201 comes after every notice's enqueue

    assert len(deliveries(desk.app, tasks.NOTICES)) == NOTICES
    assert deliveries(desk.app, tasks.REPLIES) == [f"deliver-{posted['id']}"]
    work(desk.app)

    sent = [b["text"]["content"] for b in fake_wechat.sent()]
    assert sent[0] == "让您久等了"
    assert sorted(sent[1:]) == sorted(f"您前面还有 {n} 位" for n in range(NOTICES))
    assert desk.delivery(answered, posted["id"])["state"] == "sent"


def test_sweep_does_not_enqueue_again_a_job_still_queued(desk, fake_wechat):
    cid = desk.shopper_writes("o-backlog")
    posted = desk.reply(cid, "behind a backlog")
    notice_id = notice(desk.app, cid, "您前面还有 3 位")

    with desk.app.app_context():
        assert [sweep()["redelivered"] for _ in range(3)] == [0, 0, 0]

    # One id each, not one more per sweep: a backlog does not grow by being swept.
    assert deliveries(desk.app, tasks.REPLIES) == [f"deliver-{posted['id']}"]
    assert deliveries(desk.app, tasks.NOTICES) == [f"deliver-{notice_id}"]
    work(desk.app)
    assert [b["text"]["content"] for b in fake_wechat.sent()] == ["behind a backlog", "您前面还有 3 位"]


def test_sweep_leaves_a_retry_waiting_in_rqs_schedule(desk, fake_wechat):
    cid = desk.shopper_writes("o-retry")
    fake_wechat.fail_next(SEND, -1)  # WeChat busy: RQ schedules the retry
    posted = desk.reply(cid, "try again later")
    work(desk.app)
    replies = queue(desk.app, tasks.REPLIES)
    assert replies.scheduled_job_registry.get_job_ids() == [f"deliver-{posted['id']}"]

    with desk.app.app_context():
        assert sweep()["redelivered"] == 0

    assert replies.count == 0
    assert replies.scheduled_job_registry.get_job_ids() == [f"deliver-{posted['id']}"]


def test_sweep_puts_a_lost_job_back_on_its_own_queue(desk, fake_wechat):
    cid = desk.shopper_writes("o-lost")
    posted = desk.reply(cid, "lost reply")
    notice_id = notice(desk.app, cid, "lost notice")
    for name in tasks.QUEUES:
        queue(desk.app, name).empty()  # Redis lost every job; the rows are still pending

    with desk.app.app_context():
        assert sweep()["redelivered"] == 2

    assert deliveries(desk.app, tasks.REPLIES) == [f"deliver-{posted['id']}"]
    assert deliveries(desk.app, tasks.NOTICES) == [f"deliver-{notice_id}"]
    work(desk.app)
    assert [b["text"]["content"] for b in fake_wechat.sent()] == ["lost reply", "lost notice"]


def test_a_reply_never_overtakes_its_own_conversations_earlier_notice(desk, fake_wechat):
    """Replies go first across conversations; within one, the shopper reads what was written
    in the order it was written: the reply's job sends the earlier notice before the reply."""
    cid = desk.shopper_writes("o-order")
    work(desk.app)
    notice(desk.app, cid, "已为您转接客服Alice")
    posted = desk.reply(cid, "我来帮您")
    work(desk.app)
    assert [b["text"]["content"] for b in fake_wechat.sent("o-order")][-2:] == ["已为您转接客服Alice", "我来帮您"]
    assert desk.delivery(cid, posted["id"])["state"] == "sent"
