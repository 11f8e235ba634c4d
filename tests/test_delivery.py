"""Outbound delivery end to end: agent API → outbox row → RQ job → fake WeChat → delivery state.

Everything is real except WeChat: the Flask app on SQLite and PostgreSQL, Redis, RQ workers
(in this process, or in several processes at once), and WeChat's HTTP API played by
tests/fake_wechat.py over real HTTP. Retries that RQ schedules for later are brought due
at once (see `run_jobs`): the tests check what happens, never how long it takes.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from rq.job import Job
from sqlalchemy import select, update

from bridge import delivery
from bridge.infra import db, tasks
from bridge.models import Customer, Message, Shop
from bridge.processes.worker import start_ticker
from jobs.sweep import sweep
from tests.conftest import make_app
from tests.factories import BurstWorker, load_shop, login, post_acme, shop_doc, text_xml
from tests.fake_wechat import ERRMSG, FakeWeChat

SEND = "/cgi-bin/message/custom/send"
ROOT = Path(__file__).resolve().parents[1]


# -- fixtures and helpers ----------------------------------------------------------------------

@pytest.fixture
def app(request, database_url, redis_url, fake_wechat):
    """The test app; `indirect` parametrization passes extra config (e.g. a short HTTP timeout)."""
    extra = {"DELIVERY_STALE_SECONDS": 0, **getattr(request, "param", {})}
    app = make_app(database_url, redis_url, fake_wechat.url, **extra)
    yield app
    db.dispose(app)


# The shop's own notices (welcome, queue, no-agent...) are outbox rows too, and take window
# slots: these tests count the agent's replies alone, so the merchant's notices are blanked,
# which notices.py reads as "do not send". The shop file refuses blank texts, hence the row.
NOTICES = ("welcome_message", "queue_message", "off_hours_message", "no_agent_message")


def quiet_shop(app: Flask) -> None:
    shop = load_shop(app, shop_doc())
    with db.new_session(app) as session:
        row = session.get(Shop, shop.id)
        row.settings = {**row.settings, **{key: "" for key in NOTICES}, "rating_on_end": False}
        session.commit()
    app.extensions["channel_cache"].clear()


@dataclass
class Desk:
    """An agent at the inbox, and the shoppers writing to the shop, all through the real HTTP API."""

    app: Flask
    client: FlaskClient
    headers: dict[str, str]

    @classmethod
    def open(cls, app: Flask, client: FlaskClient) -> Desk:
        """Alice logs in and goes busy: she takes shoppers only by accepting them."""
        quiet_shop(app)
        desk = cls(app, client, login(client))
        resp = client.patch("/api/v1/me", headers=desk.headers, json={"status": "busy"})
        assert resp.status_code == 200, resp.get_json()
        return desk

    def shopper_writes(self, openid: str, text: str = "在吗？") -> int:
        """A signed OA push; returns the shopper's conversation, accepted by Alice."""
        resp = post_acme(self.client, text_xml(openid, text))
        assert resp.status_code == 200, resp.data
        items = self.client.get("/api/v1/conversations", headers=self.headers).get_json()["items"]
        conversation = next(c for c in items if c["customer"]["external_id"] == openid
                            and c["state"] != "ended")
        if conversation["state"] != "active":
            resp = self.client.post(f"/api/v1/conversations/{conversation['id']}/accept",
                                    headers=self.headers)
            assert resp.status_code == 200, resp.get_json()
        return conversation["id"]

    def reply(self, conversation_id: int, text: str) -> dict[str, Any]:
        resp = self.client.post(f"/api/v1/conversations/{conversation_id}/messages",
                                headers=self.headers, json={"type": "text", "text": text})
        assert resp.status_code == 201, resp.get_json()
        return resp.get_json()

    def messages(self, conversation_id: int) -> list[dict[str, Any]]:
        resp = self.client.get(f"/api/v1/conversations/{conversation_id}/messages", headers=self.headers)
        assert resp.status_code == 200
        return resp.get_json()["items"]

    def delivery(self, conversation_id: int, message_id: int) -> dict[str, Any]:
        """The delivery as the agent sees it in the messages list."""
        return next(m for m in self.messages(conversation_id) if m["id"] == message_id)["delivery"]


@pytest.fixture
def desk(app, client) -> Desk:
    return Desk.open(app, client)


def run_jobs(app: Flask, max_rounds: int = 10) -> int:
    """Run queued jobs with a real RQ worker until none is queued or scheduled.

    A job that asked for a retry sits in RQ's scheduled registry for RETRY_INTERVALS; it is
    made due now and handed back by RQ's own scheduler (the worker's burst run), so the
    retry path is RQ's. Returns how many retry rounds were needed.
    """
    queues = tasks.worker_queues(app)
    redis = app.extensions["redis"]
    with app.app_context():
        for rounds in range(max_rounds):
            BurstWorker(queues, connection=redis).work(burst=True, with_scheduler=True)
            scheduled = [(q, j) for q in queues for j in q.scheduled_job_registry.get_job_ids()]
            if not scheduled and not any(q.count for q in queues):
                return rounds
            past = datetime.now(timezone.utc) - timedelta(seconds=1)
            for queue, job_id in scheduled:
                queue.scheduled_job_registry.schedule(Job.fetch(job_id, connection=redis), past)
    raise AssertionError(f"jobs still queued or scheduled after {max_rounds} rounds")


def redelivered() -> int:
    """Run the periodic sweep once; how many outbox rows it handed out again."""
    return sweep()["redelivered"]


def delivery_jobs(queue: Queue) -> list[str]:
    """Delivery jobs waiting in the queue (the robot's and notices' share theirs with retention)."""
    jobs = Job.fetch_many(queue.get_job_ids(), connection=queue.connection)
    return [j.id for j in jobs if j is not None and j.func_name == "jobs.delivery.deliver_message"]


def set_customer(app: Flask, openid: str, **values: Any) -> None:
    with db.new_session(app) as session:
        session.execute(update(Customer).where(Customer.external_id == openid).values(**values))
        session.commit()


def customer_quota(app: Flask, openid: str) -> int:
    with db.new_session(app) as session:
        return session.scalar(select(Customer.window_quota).where(Customer.external_id == openid))


def set_message(app: Flask, message_id: int, **values: Any) -> None:
    with db.new_session(app) as session:
        session.execute(update(Message).where(Message.id == message_id).values(**values))
        session.commit()


# -- agent replies end to end ------------------------------------------------------------------

def test_text_reply_is_sent_with_the_documented_body_and_shown_sent(desk, fake_wechat):
    cid = desk.shopper_writes("o-text", "衣服什么时候到？")
    posted = desk.reply(cid, "亲，明天就到～")
    assert posted["direction"] == "out" and posted["sender"] == "agent"
    assert posted["delivery"]["state"] == "pending"
    assert fake_wechat.sent() == []  # the API only stores and enqueues

    run_jobs(desk.app)

    assert fake_wechat.sent() == [
        {"touser": "o-text", "msgtype": "text", "text": {"content": "亲，明天就到～"}}]
    shown = desk.messages(cid)
    assert [(m["direction"], m["sender"], m["text"]) for m in shown] == [
        ("in", "customer", "衣服什么时候到？"), ("out", "agent", "亲，明天就到～")]
    assert shown[1]["delivery"]["state"] == "sent"
    assert shown[1]["delivery"]["error"] is None and shown[1]["delivery"]["attempts"] == 1
    assert shown[1]["delivery"]["sent_at"]


# -- errors from WeChat ------------------------------------------------------------------------

@pytest.mark.parametrize("errcode", [45015, 45047])
def test_final_wechat_error_fails_at_once_and_shows_code_and_message(desk, fake_wechat, errcode):
    cid = desk.shopper_writes("o-final")
    fake_wechat.fail_next(SEND, errcode)
    posted = desk.reply(cid, "在的")

    rounds = run_jobs(desk.app)

    assert rounds == 0  # nothing was scheduled for a retry
    assert len(fake_wechat.sent()) == 1
    shown = desk.delivery(cid, posted["id"])
    assert shown["state"] == "failed" and shown["attempts"] == 1
    assert shown["error"] == {"code": str(errcode), "message": ERRMSG[errcode]}
    # WeChat says the window (45015) or the cap (45047) is spent: ours follows, so the next
    # reply fails here without a call instead of spending WeChat's quota on a sure refusal.
    nxt = desk.reply(cid, "还在吗")
    run_jobs(desk.app)
    assert len(fake_wechat.sent()) == 1
    expected = "window_closed" if errcode == 45015 else "cap_reached"
    assert desk.delivery(cid, nxt["id"])["error"]["code"] == expected


@pytest.mark.parametrize("errcode", [-1, 45011])
def test_transient_wechat_error_is_retried_by_rq_and_ends_sent(desk, fake_wechat, errcode):
    cid = desk.shopper_writes("o-busy")
    fake_wechat.fail_next(SEND, errcode)
    posted = desk.reply(cid, "稍等")
    queue: Queue = desk.app.extensions["rq_queues"][tasks.REPLIES]

    with desk.app.app_context():
        BurstWorker([queue], connection=desk.app.extensions["redis"]).work(burst=True)
    # Between attempts the agent sees why, and RQ holds the retry.
    between = desk.delivery(cid, posted["id"])
    assert between["state"] == "pending" and between["error"]["code"] == str(errcode)
    assert queue.scheduled_job_registry.get_job_ids() == [f"deliver-{posted['id']}"]

    run_jobs(desk.app)

    assert len(fake_wechat.sent()) == 2
    shown = desk.delivery(cid, posted["id"])
    assert shown["state"] == "sent" and shown["attempts"] == 2 and shown["error"] is None


def test_permanent_system_busy_fails_after_max_attempts(desk, fake_wechat):
    cid = desk.shopper_writes("o-down")
    fake_wechat.fail_next(SEND, -1, times=delivery.MAX_ATTEMPTS + 3)
    posted = desk.reply(cid, "稍等")

    run_jobs(desk.app)

    assert len(fake_wechat.sent()) == delivery.MAX_ATTEMPTS
    shown = desk.delivery(cid, posted["id"])
    assert shown["state"] == "failed" and shown["attempts"] == delivery.MAX_ATTEMPTS
    assert shown["error"]["code"] == "-1"
    assert customer_quota(desk.app, "o-down") == 5  # every failed attempt gave its slot back


@pytest.mark.parametrize("app", [{"WECHAT_HTTP_TIMEOUT": 0.5}], indirect=True)
def test_send_timeout_is_retried_and_ends_sent(desk, fake_wechat):
    cid = desk.shopper_writes("o-slow")
    desk.reply(cid, "warm-up")  # the token is fetched before WeChat turns slow
    run_jobs(desk.app)
    fake_wechat.slow(SEND, 3.0)  # far over the app's 0.5 s timeout
    posted = desk.reply(cid, "在路上了")

    with desk.app.app_context():
        BurstWorker(tasks.worker_queues(desk.app),
                     connection=desk.app.extensions["redis"]).work(burst=True)
    between = desk.delivery(cid, posted["id"])
    assert between["state"] == "pending" and between["error"]["code"] == "network"

    fake_wechat.slow(SEND, 0)
    run_jobs(desk.app)

    shown = desk.delivery(cid, posted["id"])
    assert shown["state"] == "sent" and shown["attempts"] == 2


def _stable_token_calls(fake: FakeWeChat) -> list[dict]:
    return [c.json for c in fake.calls if c.path == "/cgi-bin/stable_token"]


@pytest.mark.parametrize("how", ["40001", "42001"])
def test_token_error_on_send_refreshes_once_and_retries_once(desk, fake_wechat, how):
    cid = desk.shopper_writes("o-token")
    desk.reply(cid, "first")
    run_jobs(desk.app)
    assert fake_wechat.token_fetches() == 1
    if how == "40001":
        fake_wechat.fail_next(SEND, 40001)
    else:
        fake_wechat.expire_tokens()  # WeChat itself answers 42001 to the cached token
    posted = desk.reply(cid, "second")

    rounds = run_jobs(desk.app)

    assert rounds == 0  # the token retry is inside the one attempt, not an RQ retry
    assert fake_wechat.token_fetches() == 2
    assert _stable_token_calls(fake_wechat)[-1]["force_refresh"] is True
    assert len(fake_wechat.sent()) == 3  # first, then second twice
    shown = desk.delivery(cid, posted["id"])
    assert shown["state"] == "sent" and shown["attempts"] == 1


def test_second_token_error_in_a_row_fails_the_message(desk, fake_wechat):
    cid = desk.shopper_writes("o-token2")
    fake_wechat.fail_next(SEND, 40001, times=2)
    posted = desk.reply(cid, "hello")

    run_jobs(desk.app)

    assert fake_wechat.token_fetches() == 2  # the first fetch, then exactly one refresh
    assert len(fake_wechat.sent()) == 2
    shown = desk.delivery(cid, posted["id"])
    assert shown["state"] == "failed" and shown["error"]["code"] == "40001"


# -- the 48-hour window and the 5-per-shopper-message cap --------------------------------------

def test_sixth_reply_to_one_shopper_message_fails_cap_reached_without_calling_wechat(desk, fake_wechat):
    cid = desk.shopper_writes("o-cap")
    posted = [desk.reply(cid, f"reply {n}") for n in range(1, 7)]

    run_jobs(desk.app)

    assert [b["text"]["content"] for b in fake_wechat.sent()] == [f"reply {n}" for n in range(1, 6)]
    states = [desk.delivery(cid, p["id"]) for p in posted]
    assert [s["state"] for s in states] == ["sent"] * 5 + ["failed"]
    assert states[5]["error"]["code"] == "cap_reached"


def test_new_shopper_message_restores_the_quota(desk, fake_wechat):
    cid = desk.shopper_writes("o-again")
    for n in range(5):
        desk.reply(cid, f"reply {n}")
    run_jobs(desk.app)
    assert customer_quota(desk.app, "o-again") == 0

    assert desk.shopper_writes("o-again", "还有问题") == cid
    posted = [desk.reply(cid, f"more {n}") for n in range(6)]
    run_jobs(desk.app)

    assert len(fake_wechat.sent()) == 10
    assert [desk.delivery(cid, p["id"])["state"] for p in posted] == ["sent"] * 5 + ["failed"]


def test_expired_window_fails_window_closed_without_calling_wechat(desk, fake_wechat):
    cid = desk.shopper_writes("o-late")
    set_customer(desk.app, "o-late", window_expires_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    posted = desk.reply(cid, "抱歉久等")

    run_jobs(desk.app)

    assert fake_wechat.calls == []  # not even a token
    shown = desk.delivery(cid, posted["id"])
    assert shown["state"] == "failed" and shown["error"]["code"] == "window_closed"


def test_failed_send_gives_its_slot_back(desk, fake_wechat):
    cid = desk.shopper_writes("o-slot")
    fake_wechat.fail_next(SEND, 48001)  # final, not a window error: the slot was not used
    failed = desk.reply(cid, "lost")
    run_jobs(desk.app)
    assert desk.delivery(cid, failed["id"])["state"] == "failed"
    assert customer_quota(desk.app, "o-slot") == 5

    posted = [desk.reply(cid, f"reply {n}") for n in range(6)]
    run_jobs(desk.app)

    assert [desk.delivery(cid, p["id"])["state"] for p in posted] == ["sent"] * 5 + ["failed"]


# -- faults: lost jobs, dead workers, duplicates -----------------------------------------------

def test_sweep_redelivers_a_pending_row_whose_job_was_lost(desk, fake_wechat):
    cid = desk.shopper_writes("o-lost")
    posted = desk.reply(cid, "where did it go")
    queue: Queue = desk.app.extensions["rq_queues"][tasks.REPLIES]
    queue.empty()  # Redis lost the job; the row is still pending
    run_jobs(desk.app)
    assert fake_wechat.sent() == []

    with desk.app.app_context():
        assert redelivered() == 1
    run_jobs(desk.app)

    assert [b["text"]["content"] for b in fake_wechat.sent()] == ["where did it go"]
    assert desk.delivery(cid, posted["id"])["state"] == "sent"


@pytest.mark.parametrize("app", [{"DELIVERY_STALE_SECONDS": 3600}], indirect=True)
def test_sweep_leaves_a_fresh_pending_row_to_its_own_job(desk, fake_wechat):
    cid = desk.shopper_writes("o-fresh")
    posted = desk.reply(cid, "on its way")

    with desk.app.app_context():
        assert redelivered() == 0
    assert delivery_jobs(desk.app.extensions["rq_queues"][tasks.REPLIES]) == [f"deliver-{posted['id']}"]


@pytest.mark.parametrize("app", [{"SWEEP_INTERVAL_SECONDS": 1}], indirect=True)
def test_worker_tickers_enqueue_one_sweep_per_interval_that_finds_a_lost_job(desk, fake_wechat):
    cid = desk.shopper_writes("o-ticker")
    posted = desk.reply(cid, "found by the sweep")
    queue: Queue = desk.app.extensions["rq_queues"][tasks.REPLIES]
    queue.empty()  # the delivery job was lost

    def sweeps() -> list[str]:
        return [j for j in desk.app.extensions["rq_queues"][tasks.DISPATCH].get_job_ids() if j.startswith("sweep-")]

    # Two workers' tickers at once, as in a deployment of several workers.
    stops = [threading.Event(), threading.Event()]
    tickers = [start_ticker(desk.app, stop) for stop in stops]
    deadline = time.monotonic() + 30
    while not sweeps() and time.monotonic() < deadline:
        time.sleep(0.02)
    for stop in stops:
        stop.set()
    for ticker in tickers:
        ticker.join(10)

    job_ids = sweeps()
    assert job_ids and len(set(job_ids)) == len(job_ids)  # one sweep per interval, whatever the tickers
    run_jobs(desk.app)  # the sweep, then the delivery it re-enqueued
    assert desk.delivery(cid, posted["id"])["state"] == "sent"
    assert len(fake_wechat.sent()) == 1


@pytest.mark.parametrize("app", [{"DELIVERY_STALE_SECONDS": 3600}], indirect=True)
def test_sweep_hands_out_a_stale_row_once_while_its_job_waits(desk, fake_wechat):
    cid = desk.shopper_writes("o-backlog")
    posted = desk.reply(cid, "queued behind a backlog")
    queue: Queue = desk.app.extensions["rq_queues"][tasks.REPLIES]
    queue.empty()  # the job was lost...
    set_message(desk.app, posted["id"], updated_at=datetime.now(timezone.utc) - timedelta(hours=2))

    with desk.app.app_context():
        assert redelivered() == 1
        # ...and the workers are busy: the next sweeps must not pile up copies of its job.
        assert redelivered() == 0
        assert redelivered() == 0
    assert delivery_jobs(queue) == [f"deliver-{posted['id']}"]

    run_jobs(desk.app)
    assert desk.delivery(cid, posted["id"])["state"] == "sent"
    assert len(fake_wechat.sent()) == 1


def test_job_for_an_already_sent_row_does_nothing(desk, fake_wechat):
    cid = desk.shopper_writes("o-twice")
    posted = desk.reply(cid, "once")
    run_jobs(desk.app)
    calls = len(fake_wechat.calls)

    with desk.app.app_context():
        tasks.enqueue_delivery(posted["id"], "agent")  # e.g. a sweep racing the original job
        assert redelivered() == 0  # and the sweeper finds nothing left to do
    run_jobs(desk.app)

    assert len(fake_wechat.calls) == calls
    assert len(fake_wechat.sent()) == 1
    assert desk.delivery(cid, posted["id"])["attempts"] == 1


def test_sweep_ends_a_row_left_sending_by_a_killed_worker_unknown_and_sends_nothing(desk, fake_wechat):
    """WeChat may have it already: sending again could deliver it twice (test_delivery_unknown.py)."""
    cid = desk.shopper_writes("o-killed")
    posted = desk.reply(cid, "after the crash")
    # The job died with its worker after claiming the row, and the claim has since run out;
    # RQ's retry of the dead job, still queued, runs below.
    set_message(desk.app, posted["id"], delivery="sending", attempts=1,
                claimed_until=datetime.now(timezone.utc) - timedelta(seconds=1))

    with desk.app.app_context():
        assert redelivered() == 0
    run_jobs(desk.app)

    assert fake_wechat.sent() == []
    shown = desk.delivery(cid, posted["id"])
    assert shown["state"] == "unknown" and shown["error"]["code"] == "interrupted"
    assert shown["attempts"] == 1


def test_row_claimed_by_a_live_worker_is_neither_swept_nor_sent_again(desk, fake_wechat):
    cid = desk.shopper_writes("o-busy-worker")
    posted = desk.reply(cid, "in flight")
    set_message(desk.app, posted["id"], delivery="sending", attempts=1,
                claimed_until=datetime.now(timezone.utc) + timedelta(minutes=5))

    with desk.app.app_context():
        assert redelivered() == 0
    run_jobs(desk.app)  # the original job finds the row claimed

    assert fake_wechat.sent() == []
    assert desk.delivery(cid, posted["id"])["state"] == "sending"


# One worker process: build the app, wait at a Redis barrier until all are up, drain the
# queue once. A plain `python -c` keeps start-up light (no test modules to import).
WORKER_SCRIPT = """
import json, sys, time
from rq import SimpleWorker
from bridge import create_app
from bridge.infra import tasks
config, workers = json.loads(sys.argv[1]), int(sys.argv[2])
app = create_app(config)
redis = app.extensions["redis"]
redis.incr("test:workers-ready")
deadline = time.monotonic() + 60
while int(redis.get("test:workers-ready")) < workers:
    if time.monotonic() > deadline:
        sys.exit("the other workers never came up")
    time.sleep(0.01)
with app.app_context():
    SimpleWorker(tasks.worker_queues(app), connection=redis).work(burst=True)
"""


def test_duplicate_jobs_in_several_worker_processes_send_each_row_once_within_the_cap(
        pg_url, real_redis_url, fake_wechat):
    app = make_app(pg_url, real_redis_url, fake_wechat.url)
    try:
        desk = Desk.open(app, app.test_client())
        cid = desk.shopper_writes("o-race")
        posted = [desk.reply(cid, f"reply {n}") for n in range(7)]  # 5 allowed, the original jobs
        queue: Queue = app.extensions["rq_queues"][tasks.REPLIES]
        with app.app_context():
            for p in posted:
                tasks.enqueue_delivery(p["id"], "agent")  # the same job id again, as a sweep would
                for n in range(2):  # and duplicates under ids of their own
                    queue.enqueue("jobs.delivery.deliver_message", p["id"], job_id=f"dup-{p['id']}-{n}")
        # A slow WeChat keeps each winner inside its send while the others try to claim.
        fake_wechat.slow(SEND, 0.3)

        workers = 4
        config = {k: app.config[k] for k in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY",
                                             "WECHAT_API_BASE", "WECHAT_HTTP_TIMEOUT")}
        procs = [subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, json.dumps(config), str(workers)],
                                  cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for _ in range(workers)]
        errors = [p.communicate(timeout=60)[1] for p in procs]
        assert [p.returncode for p in procs] == [0] * workers, errors[0][-2000:]

        assert queue.count == 0
        texts = [b["text"]["content"] for b in fake_wechat.sent()]
        assert len(texts) == 5 and len(set(texts)) == 5  # the cap, and no row twice
        shown = [desk.delivery(cid, p["id"]) for p in posted]
        assert sorted(s["state"] for s in shown) == ["failed"] * 2 + ["sent"] * 5
        assert {s["error"]["code"] for s in shown if s["state"] == "failed"} == {"cap_reached"}
        assert [s["attempts"] for s in shown] == [1] * 7  # each row claimed by one job only
        assert customer_quota(app, "o-race") == 0
    finally:
        db.dispose(app)


def test_worker_command_delivers_replies_and_records_failures(pg_url, real_redis_url, fake_wechat):
    """`flask --app wsgi worker --burst`, as deployed: forking worker, scheduler, env config."""
    app = make_app(pg_url, real_redis_url, fake_wechat.url)
    try:
        desk = Desk.open(app, app.test_client())
        cid = desk.shopper_writes("o-cli")
        fake_wechat.fail_next(SEND, 48001)
        failed = desk.reply(cid, "refused")
        sent = desk.reply(cid, "delivered")

        env = {**os.environ, "DATABASE_URL": pg_url, "REDIS_URL": real_redis_url,
               "SECRET_KEY": "test-secret", "WECHAT_API_BASE": fake_wechat.url}
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "worker", "--burst"],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr[-2000:]

        assert desk.delivery(cid, failed["id"])["error"]["code"] == "48001"
        assert desk.delivery(cid, sent["id"])["state"] == "sent"
        assert [b["text"]["content"] for b in fake_wechat.sent()] == ["refused", "delivered"]
    finally:
        db.dispose(app)
