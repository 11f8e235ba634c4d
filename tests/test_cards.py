"""An agent's cards through the Mini Program: a link card (title, description, url, picture)
and a card of one of its own pages (title, page path, the thumbnail uploaded as the card's
thumb_media_id), delivered as WeChat's documented bodies; sent once under one client_id; bad
cards are 422 and store nothing; a channel that does not send a card type refuses it."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select

from adapters.wechat.mp_push import text_push
from bridge.infra import db
from bridge.models import Message
from tests.factories import login, post_acme, text_xml
from tests.test_delivery import run_jobs
from tests.test_delivery_images import PNG
from tests.test_mp_webhook import MP_APP, mp, push  # noqa: F401  (mp: the shop with Mini Programs)

LINK = {"type": "link", "title": " 夏季新品 ", "description": "全场包邮", "url": "https://shop.example/new",
        "thumb_url": "https://shop.example/new.png"}


@pytest.fixture
def chat(client, mp):  # noqa: F811
    push(client, text_push("o-card", "有什么新品"))
    alice = login(client)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})
    [row] = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
    return alice, f"/api/v1/conversations/{row['id']}/messages"


def page_form(**extra) -> dict:
    return {"type": "miniprogrampage", "title": "碎花连衣裙", "page_path": "pages/item/item?id=42",
            "image": (io.BytesIO(PNG), "thumb.png", "image/png"), **extra}


def test_a_link_card_and_a_page_card_reach_the_shopper(app, client, chat, fake_wechat):
    alice, url = chat
    resp = client.post(url, headers=alice, json={**LINK, "client_id": "c-link"})
    assert resp.status_code == 201
    link = resp.get_json()
    assert link["type"] == "link" and link["text"] == "夏季新品" and link["media"]["url"] == LINK["url"]
    assert client.post(url, headers=alice, json={**LINK, "client_id": "c-link"}).status_code == 200  # once
    resp = client.post(url, headers=alice, data=page_form(client_id="c-page"))
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["media"]["page_path"] == "pages/item/item?id=42" and resp.get_json()["media_url"]
    run_jobs(app)
    sent = [m for m in fake_wechat.sent("o-card") if m["msgtype"] != "text"]
    assert sent[0] == {"touser": "o-card", "msgtype": "link", "link": {
        "title": "夏季新品", "description": "全场包邮", "url": LINK["url"], "thumb_url": LINK["thumb_url"]}}
    page = sent[1]["miniprogrampage"]
    assert (page["title"], page["pagepath"]) == ("碎花连衣裙", "pages/item/item?id=42")
    [upload] = [c for c in fake_wechat.calls if c.path == "/cgi-bin/media/upload"]
    assert upload.files["media"] == PNG and fake_wechat.token_owner(upload.query["access_token"])[0] == MP_APP
    assert page["thumb_media_id"].startswith("MEDIA_")
    states = [m["delivery"]["state"] for m in client.get(url, headers=alice).get_json()["items"]
              if m["type"] in ("link", "miniprogrampage")]
    assert states == ["sent", "sent"]


@pytest.mark.parametrize("body", [
    {**LINK, "title": ""}, {**LINK, "url": "javascript:alert(1)"}, {**LINK, "thumb_url": None},
    {**LINK, "title": "长" * 65}, {**LINK, "colour": "red"}, {k: v for k, v in LINK.items() if k != "url"},
    {"type": "miniprogrampage", "title": "t", "page_path": "pages/a"},  # a page card needs its thumbnail
])
def test_a_bad_card_is_422_and_stores_nothing(app, client, chat, body):
    alice, url = chat
    before = _count(app)
    resp = client.post(url, headers=alice, json=body)
    assert resp.status_code == 422, resp.get_json()
    assert _count(app) == before


@pytest.mark.parametrize("change", [{"page_path": "https://shop.example/a"}, {"title": ""}, {"extra": "x"}])
def test_a_bad_page_card_is_422(app, client, chat, change):
    alice, url = chat
    before = _count(app)
    assert client.post(url, headers=alice, data=page_form(**change)).status_code == 422
    assert _count(app) == before


def test_the_official_account_does_not_send_these_cards_yet(app, client, shop):
    post_acme(client, text_xml("o-oa-card", "你好"))
    alice = login(client)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})
    [row] = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
    resp = client.post(f"/api/v1/conversations/{row['id']}/messages", headers=alice, json=LINK)
    assert resp.status_code == 422 and "does not send link cards" in resp.get_json()["error"]["message"]


def _count(app) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(func.count()).select_from(Message))
