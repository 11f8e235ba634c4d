"""What a delivery says in the log: a retry one line (message, attempt, reason), a final failure
one warning with the code, a traceback only for a bug. Real RQ workers, the fake WeChat over
HTTP, the records as the logging module hands them out (caplog).
"""
from __future__ import annotations

import logging

import pytest

from bridge import delivery, logs
from bridge.infra import db, tasks
from tests.conftest import make_app
from tests.factories import BurstWorker
from tests.test_delivery import SEND, Desk, run_jobs


@pytest.fixture
def app(database_url, redis_url, fake_wechat):
    app = make_app(database_url, redis_url, fake_wechat.url, DELIVERY_STALE_SECONDS=0, WECHAT_HTTP_TIMEOUT=0.5)
    yield app
    db.dispose(app)


@pytest.fixture
def desk(app, client, caplog) -> Desk:
    desk = Desk.open(app, client)
    caplog.set_level(logging.INFO)
    return desk


def lines_about(caplog, message_id: int) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bridge.delivery"
            and r.getMessage().startswith(f"message {message_id}:")]


def tracebacks(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info or "Traceback" in r.getMessage()]


def test_a_retried_send_is_one_line_with_message_attempt_and_reason(desk, fake_wechat, caplog):
    cid = desk.shopper_writes("o-retry")
    fake_wechat.fail_next(SEND, -1)
    posted = desk.reply(cid, "稍等")

    run_jobs(desk.app)

    retry, sent = lines_about(caplog, posted["id"])
    assert retry.levelno == logging.INFO
    assert "attempt 1" in retry.getMessage() and "-1: system error" in retry.getMessage()
    assert "will retry" in retry.getMessage()
    assert sent.levelno == logging.INFO and sent.getMessage() == f"message {posted['id']}: sent (attempt 2)"
    assert tracebacks(caplog) == [] and not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_network_failure_is_a_retry_line_not_a_traceback(desk, fake_wechat, caplog):
    cid = desk.shopper_writes("o-slow")
    desk.reply(cid, "warm-up")  # the token is fetched before WeChat turns slow
    run_jobs(desk.app)
    fake_wechat.slow(SEND, 3.0)  # far over the app's 0.5 s timeout
    posted = desk.reply(cid, "在路上了")
    caplog.clear()

    with desk.app.app_context():  # one attempt: the retry waits in RQ's schedule
        BurstWorker(tasks.worker_queues(desk.app), connection=desk.app.extensions["redis"]).work(burst=True)

    [retry] = lines_about(caplog, posted["id"])
    assert "attempt 1" in retry.getMessage() and "network" in retry.getMessage()
    assert tracebacks(caplog) == []


def test_a_final_failure_is_one_warning_with_the_code(desk, fake_wechat, caplog):
    cid = desk.shopper_writes("o-final")
    fake_wechat.fail_next(SEND, 48001)
    posted = desk.reply(cid, "refused")

    run_jobs(desk.app)

    [failed] = lines_about(caplog, posted["id"])
    assert failed.levelno == logging.WARNING
    assert "48001" in failed.getMessage() and "api unauthorized" in failed.getMessage()
    assert tracebacks(caplog) == [] and not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_retries_running_out_are_a_line_each_then_one_warning(desk, fake_wechat, caplog):
    cid = desk.shopper_writes("o-down")
    fake_wechat.fail_next(SEND, -1, times=delivery.MAX_ATTEMPTS + 3)
    posted = desk.reply(cid, "稍等")

    run_jobs(desk.app)

    lines = lines_about(caplog, posted["id"])
    assert [r.levelno for r in lines] == [logging.INFO] * (delivery.MAX_ATTEMPTS - 1) + [logging.WARNING]
    assert [f"attempt {n}" in r.getMessage() for n, r in enumerate(lines, 1)] == [True] * len(lines)
    assert "-1" in lines[-1].getMessage()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [lines[-1]]  # not RQ's "exceeded maximum retry attempts" too
    assert tracebacks(caplog) == []


def test_a_bug_in_a_delivery_still_shows_its_traceback(desk, fake_wechat, caplog, monkeypatch):
    cid = desk.shopper_writes("o-bug")
    posted = desk.reply(cid, "hello")

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the window arithmetic")

    monkeypatch.setattr(delivery, "_take_window_slot", broken)
    run_jobs(desk.app)

    [first, *_] = tracebacks(caplog)
    assert first.name == "rq.worker" and first.levelno == logging.ERROR
    assert f"deliver-{posted['id']}" in first.getMessage()
    assert "RuntimeError: a bug in the window arithmetic" in first.getMessage()


# -- the processes' logging ----------------------------------------------------------------------

def test_libraries_narrate_only_at_debug_and_a_bad_level_is_named():
    try:
        logs.configure("info")
        assert logging.getLogger("bridge").level == logging.INFO
        assert {logging.getLogger(n).level for n in logs.CHATTY} == {logging.WARNING}
        assert logs.library_level("INFO") == "WARNING"
        logs.configure("DEBUG")
        assert {logging.getLogger(n).level for n in (*logs.CHATTY, "bridge")} == {logging.DEBUG}
        assert logs.library_level("debug") == "DEBUG"
        with pytest.raises(ValueError, match="LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, not 'LOUD'"):
            logs.configure("LOUD")
    finally:
        logs.configure("INFO")


def test_an_app_with_a_bad_log_level_does_not_start(database_url):
    with pytest.raises(ValueError, match="LOG_LEVEL"):
        make_app(database_url, None, LOG_LEVEL="chatty")
