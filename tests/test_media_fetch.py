"""Shoppers' media: fetched once from WeChat by a job (GET /cgi-bin/media/get), kept by the bridge.

As tests/test_delivery_images.py: the real app on SQLite and PostgreSQL, Redis, RQ workers,
and WeChat's API over HTTP (tests/fake_wechat.py), whose calls are counted. The media store is
the test's own directory, so "nothing kept" can be looked at.
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest
from rq.job import Job

from adapters.wechat.push import image_xml, message_xml
from bridge import keys
from bridge.events.log import FIELD
from bridge.infra import db, tasks
from bridge.models import Message, Shop
from jobs.sweep import sweep
from tests.conftest import make_app
from tests.factories import BurstWorker, post_acme
from tests.test_delivery import Desk, run_jobs, set_message
from tests.test_delivery_images import GIF, PNG

AMR = b"#!AMR\n" + bytes(range(32))


@pytest.fixture
def media_dir(tmp_path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def app(database_url, redis_url, fake_wechat, media_dir):
    app = make_app(database_url, redis_url, fake_wechat.url, DELIVERY_STALE_SECONDS=0, MEDIA_DIR=str(media_dir))
    yield app
    db.dispose(app)


@pytest.fixture
def desk(app, client) -> Desk:
    return Desk.open(app, client)


def stored_files(media_dir: Path) -> list[Path]:
    return [p for p in media_dir.rglob("*") if p.is_file()] if media_dir.exists() else []


def shopper_sends(desk: Desk, xml: str) -> tuple[int, dict]:
    """A signed push from a shopper Alice serves; (conversation id, the message as listed)."""
    cid = desk.shopper_writes("o-media", "在吗？")
    resp = post_acme(desk.client, xml)
    assert resp.status_code == 200 and resp.data == b"success", resp.data
    return cid, desk.messages(cid)[-1]


def shown(desk: Desk, cid: int, mid: int) -> dict:
    return next(m for m in desk.messages(cid) if m["id"] == mid)


def updates(app, mid: int, timeout: float = 5.0) -> list[dict]:
    """message.updated events about MID in the shop's event log (written, not waited for)."""
    redis = app.extensions["redis"]
    with db.new_session(app) as session:
        shop_id = session.query(Shop.id).filter(Shop.key == "acme").scalar()
    deadline = time.monotonic() + timeout
    while True:
        events = [json.loads(fields[FIELD.encode()]) for _, fields in redis.xrange(keys.events_log(shop_id))]
        found = [e["message"] for e in events if e["type"] == "message.updated" and e["message"]["id"] == mid]
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


# -- stored ------------------------------------------------------------------------------------

def test_an_image_is_fetched_by_a_job_stored_shown_and_served(desk, fake_wechat, media_dir):
    fake_wechat.keep_media("MEDIA_png", PNG, "image/jpeg")  # WeChat's label; the bytes say PNG
    cid, message = shopper_sends(desk, image_xml("o-media", "http://mmbiz.qpic.cn/expires", "MEDIA_png"))

    assert message["type"] == "image" and message["media"]["state"] == "fetching"
    assert message["media_url"] is None and fake_wechat.media_fetches() == 0  # the webhook never waits
    run_jobs(desk.app)

    message = shown(desk, cid, message["id"])
    assert message["media"]["state"] == "stored" and message["media"]["content_type"] == "image/png"
    assert message["media"]["size"] == len(PNG) and message["media_url"]
    assert [p.read_bytes() for p in stored_files(media_dir)] == [PNG]
    served = desk.client.get(message["media_url"], headers=desk.headers)
    assert served.status_code == 200 and served.data == PNG and served.mimetype == "image/png"
    assert [u["media"]["state"] for u in updates(desk.app, message["id"])] == ["stored"]
    assert fake_wechat.media_fetches("MEDIA_png") == 1


def test_a_voice_shows_wechats_recognition_and_keeps_the_amr_file(desk, fake_wechat, media_dir):
    fake_wechat.keep_media("MEDIA_voice", AMR, "audio/amr")
    xml = message_xml("o-media", "voice", {"MediaId": "MEDIA_voice", "Format": "amr", "Recognition": "有没有大码"})
    cid, message = shopper_sends(desk, xml)

    assert message["type"] == "voice" and message["text"] == "有没有大码"
    assert message["media"]["recognition"] == "有没有大码" and message["media"]["state"] == "fetching"
    run_jobs(desk.app)

    message = shown(desk, cid, message["id"])
    assert message["media"]["state"] == "stored" and message["media"]["content_type"] == "audio/amr"
    served = desk.client.get(message["media_url"], headers=desk.headers)
    assert served.data == AMR and served.mimetype == "audio/amr"


def test_a_video_follows_wechats_video_url(desk, fake_wechat):
    fake_wechat.keep_media("MEDIA_video", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 64, "video/mp4")
    cid, message = shopper_sends(desk, message_xml("o-media", "video", {"MediaId": "MEDIA_video",
                                                                         "ThumbMediaId": "MEDIA_thumb"}))
    run_jobs(desk.app)
    message = shown(desk, cid, message["id"])
    assert message["media"]["state"] == "stored" and message["media"]["content_type"] == "video/mp4"


# -- given up on -------------------------------------------------------------------------------

def test_an_invalid_media_id_is_unavailable_after_one_try(desk, fake_wechat, media_dir):
    cid, message = shopper_sends(desk, image_xml("o-media", "http://mmbiz.qpic.cn/x", "MEDIA_gone"))
    assert run_jobs(desk.app) == 0  # no retry round

    message = shown(desk, cid, message["id"])
    assert message["media"]["state"] == "unavailable" and message["media"]["error"]["code"] == "40007"
    assert message["media_url"] is None and stored_files(media_dir) == []
    assert fake_wechat.media_fetches() == 1
    assert [u["media"]["state"] for u in updates(desk.app, message["id"])] == ["unavailable"]


def test_a_file_over_the_channels_cap_is_refused_and_nothing_is_kept(desk, fake_wechat, media_dir, monkeypatch):
    from adapters.wechat import oa
    from bridge.channels import registry

    entry = registry.KINDS["wechat_oa"]
    monkeypatch.setitem(registry.KINDS, "wechat_oa", entry.__class__(**{
        **entry.__dict__, "capabilities": entry.capabilities.__class__(
            **{**entry.capabilities.__dict__, "fetch_max_bytes": 100})}))
    assert oa.MAX_FETCH > 100
    fake_wechat.keep_media("MEDIA_big", b"\xff\xd8\xff" + b"\x00" * 500, "image/jpeg")
    cid, message = shopper_sends(desk, image_xml("o-media", "http://mmbiz.qpic.cn/x", "MEDIA_big"))
    run_jobs(desk.app)

    message = shown(desk, cid, message["id"])
    assert message["media"]["state"] == "unavailable" and message["media"]["error"]["code"] == "too_large"
    assert stored_files(media_dir) == []


def test_a_file_that_is_no_image_is_unavailable_and_not_kept(desk, fake_wechat, media_dir):
    fake_wechat.keep_media("MEDIA_html", b"<html><script>alert(1)</script></html>", "image/jpeg")
    cid, message = shopper_sends(desk, image_xml("o-media", "http://mmbiz.qpic.cn/x", "MEDIA_html"))
    run_jobs(desk.app)
    message = shown(desk, cid, message["id"])
    assert message["media"]["state"] == "unavailable" and message["media"]["error"]["code"] == "not_an_image"
    assert stored_files(media_dir) == []


# -- retried -----------------------------------------------------------------------------------

@pytest.mark.parametrize("failure", ["http_502", "system_busy", "timeout"])
def test_a_channel_away_is_retried_then_stored(desk, fake_wechat, failure):
    fake_wechat.keep_media("MEDIA_gif", GIF, "image/gif")
    if failure == "http_502":
        fake_wechat.fail_http("/cgi-bin/media/get", 502, times=2)
    elif failure == "system_busy":
        fake_wechat.fail_next("/cgi-bin/media/get", -1, times=2)
    else:
        desk.app.config["WECHAT_HTTP_TIMEOUT"] = 0.3
        fake_wechat.slow("/cgi-bin/media/get", 1.0)
    cid, message = shopper_sends(desk, image_xml("o-media", "http://mmbiz.qpic.cn/x", "MEDIA_gif"))
    if failure == "timeout":
        with desk.app.app_context():
            BurstWorker(tasks.worker_queues(desk.app), connection=desk.app.extensions["redis"]).work(burst=True)
        assert shown(desk, cid, message["id"])["media"]["state"] == "fetching"  # a retry to come
        fake_wechat.slow("/cgi-bin/media/get", 0)
    rounds = run_jobs(desk.app)

    message = shown(desk, cid, message["id"])
    assert message["media"]["state"] == "stored" and message["media"]["content_type"] == "image/gif"
    with db.new_session(desk.app) as session:  # (a timed-out call is recorded by the fake only when it ends)
        assert rounds >= 1 and session.get(Message, message["id"]).attempts >= 2


def test_a_channel_away_for_good_ends_unavailable(desk, fake_wechat, media_dir):
    fake_wechat.keep_media("MEDIA_gif", GIF, "image/gif")
    fake_wechat.fail_http("/cgi-bin/media/get", 503, times=20)
    cid, message = shopper_sends(desk, image_xml("o-media", "http://mmbiz.qpic.cn/x", "MEDIA_gif"))
    run_jobs(desk.app)
    message = shown(desk, cid, message["id"])
    assert message["media"]["state"] == "unavailable" and message["media"]["error"]["code"] == "http_503"
    assert fake_wechat.media_fetches() == 5 and stored_files(media_dir) == []


# -- once --------------------------------------------------------------------------------------

def test_a_retried_push_two_enqueues_and_two_workers_fetch_once(desk, fake_wechat, media_dir):
    fake_wechat.keep_media("MEDIA_once", PNG, "image/png")
    xml = image_xml("o-media", "http://mmbiz.qpic.cn/x", "MEDIA_once", msg_id=424242)
    cid, message = shopper_sends(desk, xml)
    assert post_acme(desk.client, xml).data == b"success"  # WeChat's retry of the same push
    with desk.app.app_context():
        for _ in range(3):
            tasks.enqueue_media_fetch(message["id"])
    redis = desk.app.extensions["redis"]
    assert Job.fetch(keys.media_fetch_job(message["id"]), connection=redis).func_name == "jobs.media.fetch_media"
    workers = [BurstWorker(tasks.worker_queues(desk.app), connection=redis) for _ in range(2)]
    with desk.app.app_context():
        for worker in workers:
            worker.work(burst=True)
    run_jobs(desk.app)

    assert fake_wechat.media_fetches("MEDIA_once") == 1
    assert shown(desk, cid, message["id"])["media"]["state"] == "stored"
    assert len(stored_files(media_dir)) == 1


def test_a_row_claimed_by_a_live_worker_is_not_fetched_again(desk, fake_wechat):
    from datetime import datetime, timedelta, timezone

    fake_wechat.keep_media("MEDIA_held", PNG, "image/png")
    cid, message = shopper_sends(desk, image_xml("o-media", "http://mmbiz.qpic.cn/x", "MEDIA_held"))
    set_message(desk.app, message["id"], claimed_until=datetime.now(timezone.utc) + timedelta(minutes=1))
    run_jobs(desk.app)
    assert fake_wechat.media_fetches() == 0
    assert shown(desk, cid, message["id"])["media"]["state"] == "fetching"


def test_the_sweep_fetches_media_whose_job_was_lost(desk, fake_wechat, monkeypatch):
    fake_wechat.keep_media("MEDIA_lost", PNG, "image/png")
    monkeypatch.setattr(tasks, "enqueue_media_fetch", lambda message_id: None)  # Redis away at the commit
    cid, message = shopper_sends(desk, image_xml("o-media", "http://mmbiz.qpic.cn/x", "MEDIA_lost"))
    run_jobs(desk.app)
    assert fake_wechat.media_fetches() == 0
    monkeypatch.undo()

    with desk.app.app_context():
        assert sweep()["refetched"] == 1
        assert sweep()["refetched"] == 0  # its job waits: not enqueued twice
    run_jobs(desk.app)
    assert shown(desk, cid, message["id"])["media"]["state"] == "stored"
    assert fake_wechat.media_fetches() == 1
    with desk.app.app_context():
        assert sweep()["refetched"] == 0


def test_media_state_is_kept_on_the_row(desk, fake_wechat):
    cid, message = shopper_sends(desk, image_xml("o-media", "http://mmbiz.qpic.cn/x", "MEDIA_gone"))
    run_jobs(desk.app)
    with db.new_session(desk.app) as session:
        row = session.get(Message, message["id"])
        assert row.media["state"] == "unavailable" and row.claimed_until is None and row.attempts == 1


def test_two_workers_at_once_fetch_once(desk, fake_wechat):
    from jobs.media import fetch_media

    fake_wechat.keep_media("MEDIA_race", PNG, "image/png")
    fake_wechat.slow("/cgi-bin/media/get", 0.5)  # both jobs run while the first fetch is out
    cid, message = shopper_sends(desk, image_xml("o-media", "http://mmbiz.qpic.cn/x", "MEDIA_race"))
    outcomes: list[str] = []

    def work() -> None:
        with desk.app.app_context():
            outcomes.append(fetch_media(message["id"]))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(outcomes) == ["skipped", "stored"]
    assert fake_wechat.media_fetches("MEDIA_race") == 1


def test_an_expired_token_on_media_get_is_refreshed_once(desk, fake_wechat):
    fake_wechat.keep_media("MEDIA_token", PNG, "image/png")
    fake_wechat.fail_next("/cgi-bin/media/get", 40001)
    cid, message = shopper_sends(desk, image_xml("o-media", "http://mmbiz.qpic.cn/x", "MEDIA_token"))
    run_jobs(desk.app)
    assert shown(desk, cid, message["id"])["media"]["state"] == "stored"
    assert fake_wechat.media_fetches("MEDIA_token") == 2


def test_the_sweep_leaves_media_older_than_wechat_keeps_it(desk, fake_wechat, monkeypatch):
    from datetime import datetime, timedelta, timezone

    monkeypatch.setattr(tasks, "enqueue_media_fetch", lambda message_id: None)
    cid, message = shopper_sends(desk, image_xml("o-media", "http://mmbiz.qpic.cn/x", "MEDIA_old"))
    set_message(desk.app, message["id"], created_at=datetime.now(timezone.utc) - timedelta(days=5))
    with desk.app.app_context():
        assert sweep()["refetched"] == 0
