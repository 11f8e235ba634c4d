"""Agents' images through the outbox: kept by the bridge at once, uploaded and sent by the job.

As tests/test_delivery.py: the real app on SQLite and PostgreSQL, Redis, RQ workers, and
WeChat's API played over HTTP by tests/fake_wechat.py. The media store is a directory of the
test's own, so "nothing stored" can be looked at.
"""
from __future__ import annotations

import io
from pathlib import Path

import pytest

from bridge import delivery
from bridge.infra import db, tasks
from bridge.media.store import MediaMissing, MediaStore
from bridge.media.uploads import MEDIA_ID_SECONDS
from tests.conftest import make_app
from tests.factories import login
from tests.test_delivery import SEND, Desk, customer_quota, delivery_jobs, run_jobs

UPLOAD = "/cgi-bin/media/upload"
# A 1×1 PNG, and the first bytes of a GIF: the API judges the type by these, not by the name.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)
GIF = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"


@pytest.fixture
def media_dir(tmp_path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def app(database_url, redis_url, fake_wechat, media_dir):
    app = make_app(database_url, redis_url, fake_wechat.url, DELIVERY_STALE_SECONDS=0,
                   MEDIA_DIR=str(media_dir))
    yield app
    db.dispose(app)


@pytest.fixture
def desk(app, client) -> Desk:
    return Desk.open(app, client)


def post_image(desk: Desk, cid: int, content: bytes = PNG, name: str = "size-chart.png",
               declared: str = "image/png"):
    return desk.client.post(f"/api/v1/conversations/{cid}/messages", headers=desk.headers,
                            data={"image": (io.BytesIO(content), name, declared)},
                            content_type="multipart/form-data")


def stored_files(media_dir: Path) -> list[Path]:
    return [p for p in media_dir.rglob("*") if p.is_file()] if media_dir.exists() else []


def uploads(fake_wechat) -> list:
    return [c for c in fake_wechat.calls if c.path == UPLOAD]


# -- pending at once, then sent ------------------------------------------------------------------

def test_image_is_stored_and_pending_at_once_then_uploaded_and_sent_by_the_job(desk, fake_wechat):
    cid = desk.shopper_writes("o-image")
    resp = post_image(desk, cid)

    assert resp.status_code == 201, resp.get_json()
    posted = resp.get_json()
    assert posted["type"] == "image" and posted["delivery"]["state"] == "pending"
    assert posted["media"]["filename"] == "size-chart.png" and posted["media"]["content_type"] == "image/png"
    assert fake_wechat.calls == []  # the request only stored the image and enqueued its delivery
    shown = desk.client.get(posted["media_url"], headers=desk.headers)
    assert shown.status_code == 200 and shown.data == PNG and shown.mimetype == "image/png"
    assert "private" in shown.headers["Cache-Control"]

    run_jobs(desk.app)

    [upload] = uploads(fake_wechat)
    assert upload.query["type"] == "image" and upload.files == {"media": PNG}
    [sent] = fake_wechat.sent()
    assert sent["touser"] == "o-image" and sent["msgtype"] == "image"
    [message] = [m for m in desk.messages(cid) if m["id"] == posted["id"]]
    assert message["delivery"]["state"] == "sent" and message["delivery"]["attempts"] == 1
    assert message["media"]["media_id"] == sent["image"]["media_id"]  # what the channel was sent
    assert desk.client.get(message["media_url"], headers=desk.headers).data == PNG  # still the agent's


def test_the_same_image_again_reuses_its_media_id_until_the_channel_refuses_it(desk, fake_wechat):
    cid = desk.shopper_writes("o-again")
    assert post_image(desk, cid).status_code == 201
    assert post_image(desk, cid, name="again.png").status_code == 201
    run_jobs(desk.app)

    assert len(uploads(fake_wechat)) == 1  # one upload for the same bytes on the same channel
    first, second = fake_wechat.sent()
    assert first["image"] == second["image"]
    ttl = desk.app.extensions["redis"].ttl(next(iter(desk.app.extensions["redis"].scan_iter("*:media:*"))))
    assert 0 < ttl <= MEDIA_ID_SECONDS < 3 * 86400

    fake_wechat.fail_next(SEND, 40007)  # WeChat no longer knows that media id
    refused = post_image(desk, cid).get_json()
    run_jobs(desk.app)
    assert desk.delivery(cid, refused["id"])["error"]["code"] == "40007"
    post_image(desk, cid)
    run_jobs(desk.app)
    assert len(uploads(fake_wechat)) == 2  # the refused id was forgotten: uploaded afresh


# -- the upload fails ------------------------------------------------------------------------------

def test_upload_failing_for_a_while_is_retried_like_a_send_and_ends_sent(desk, fake_wechat):
    cid = desk.shopper_writes("o-busy-upload")
    fake_wechat.fail_next(UPLOAD, -1, times=2)
    posted = post_image(desk, cid).get_json()

    rounds = run_jobs(desk.app)

    assert rounds == 2 and len(uploads(fake_wechat)) == 3
    shown = desk.delivery(cid, posted["id"])
    assert shown["state"] == "sent" and shown["attempts"] == 3 and shown["error"] is None
    assert len(fake_wechat.sent()) == 1


def test_upload_failing_every_time_ends_failed_with_the_reason_and_the_image_kept(desk, fake_wechat):
    cid = desk.shopper_writes("o-down")
    fake_wechat.fail_next(UPLOAD, -1, times=delivery.MAX_ATTEMPTS + 3)
    posted = post_image(desk, cid).get_json()

    run_jobs(desk.app)

    assert len(uploads(fake_wechat)) == delivery.MAX_ATTEMPTS and fake_wechat.sent() == []
    shown = desk.delivery(cid, posted["id"])
    assert shown["state"] == "failed" and shown["attempts"] == delivery.MAX_ATTEMPTS
    assert shown["error"] == {"code": "-1", "message": "system error"}
    assert customer_quota(desk.app, "o-down") == 5  # nothing was sent: every slot given back
    assert desk.client.get(posted["media_url"], headers=desk.headers).data == PNG


def test_upload_refused_by_wechat_fails_at_once_with_its_code(desk, fake_wechat):
    cid = desk.shopper_writes("o-refused")
    fake_wechat.fail_next(UPLOAD, 40004)
    posted = post_image(desk, cid).get_json()

    assert run_jobs(desk.app) == 0  # final: nothing scheduled for a retry
    shown = desk.delivery(cid, posted["id"])
    assert shown["state"] == "failed" and shown["attempts"] == 1
    assert shown["error"] == {"code": "40004", "message": "invalid media type"}


def test_image_gone_from_the_store_fails_without_calling_wechat(desk, fake_wechat, media_dir):
    cid = desk.shopper_writes("o-gone")
    posted = post_image(desk, cid).get_json()
    for path in stored_files(media_dir):
        path.unlink()

    run_jobs(desk.app)

    assert fake_wechat.calls == []
    shown = desk.delivery(cid, posted["id"])
    assert shown["state"] == "failed" and shown["error"]["code"] == "media_missing"
    assert customer_quota(desk.app, "o-gone") == 5
    assert desk.client.get(posted["media_url"], headers=desk.headers).status_code == 404


# -- bad input: a clear error, nothing stored ------------------------------------------------------

@pytest.mark.parametrize(("content", "declared", "status", "code"), [
    (b"%PDF-1.7 not an image", "image/png", 400, "bad_image"),  # the declared type is not believed
    (b"", "image/png", 400, "bad_image"),
    (b"\x89PNG\r\n\x1a\n" + bytes(10 * 2**20), "image/png", 413, "too_large"),
])
def test_bad_image_is_refused_and_nothing_is_stored(desk, fake_wechat, media_dir, content, declared,
                                                    status, code):
    cid = desk.shopper_writes("o-bad")
    resp = post_image(desk, cid, content, declared=declared)

    assert resp.status_code == status
    assert resp.get_json()["error"]["code"] == code and resp.get_json()["error"]["message"]
    assert stored_files(media_dir) == []
    assert [m["direction"] for m in desk.messages(cid)] == ["in"]
    assert delivery_jobs(desk.app.extensions["rq_queues"][tasks.REPLIES]) == []


def test_image_type_comes_from_its_bytes_not_its_name_or_declared_type(desk, fake_wechat, media_dir):
    cid = desk.shopper_writes("o-gif")
    resp = post_image(desk, cid, GIF, name="photo.dat", declared="application/octet-stream")

    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["media"]["content_type"] == "image/gif"
    assert [p.read_bytes() for p in stored_files(media_dir)] == [GIF]
    run_jobs(desk.app)
    [upload] = uploads(fake_wechat)
    assert upload.files == {"media": GIF}


# -- who may see the image -------------------------------------------------------------------------

def test_media_url_answers_only_those_who_see_the_conversation(desk, fake_wechat):
    cid = desk.shopper_writes("o-private")
    posted = post_image(desk, cid).get_json()
    text = desk.reply(cid, "文字")
    assert text["media_url"] is None

    assert desk.client.get(posted["media_url"]).status_code == 401
    bob = login(desk.client, "bob")
    assert desk.client.get(posted["media_url"], headers=bob).status_code == 403  # alice's shopper
    missing = f"/api/v1/conversations/{cid}/messages/{text['id']}/media"
    assert desk.client.get(missing, headers=desk.headers).status_code == 404
    other = desk.shopper_writes("o-other")
    elsewhere = f"/api/v1/conversations/{other}/messages/{posted['id']}/media"
    assert desk.client.get(elsewhere, headers=desk.headers).status_code == 404


# -- the store itself ------------------------------------------------------------------------------

def test_store_keeps_the_same_bytes_once_under_their_digest_and_refuses_other_names(tmp_path):
    store = MediaStore(tmp_path)
    digest = store.put(PNG)
    assert store.put(PNG) == digest == MediaStore.digest(PNG)
    assert store.get(digest) == PNG
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [digest]
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")
    with pytest.raises(MediaMissing):
        store.get("0" * 64)
