"""The demo sandbox (bridge/demo): the demo shop's sandbox channel talks to the bridge's own
stand-in of WeChat's API over real HTTP, and the shopper page shows what the shopper's WeChat
would. Outside demo mode none of it is served and a sandbox channel never reaches any WeChat.
"""
from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from bridge.infra import db
from bridge.models import Conversation, Customer, Message
from tests.conftest import make_app
from tests.factories import load_shop, login, post_oa, shop_doc, text_xml
from tests.live import free_port
from tests.test_delivery import run_jobs

DEMO_SHOP = json.loads((Path(__file__).resolve().parent.parent / "demo" / "shop.json").read_text(encoding="utf-8"))
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FEED = "/demo/shopper/demo-oa/feed"
PUSH = "/demo/shopper/demo-oa/push"


@pytest.fixture
def demo(database_url, redis_url, fake_wechat, tmp_path):
    """The app in demo mode, served over HTTP (its worker jobs call the stand-in there), with
    the demo shop loaded from demo/shop.json."""
    port = free_port()
    app = make_app(database_url, redis_url, fake_wechat.url, DEMO_URL=f"http://127.0.0.1:{port}",
                   DEMO_DIR=str(tmp_path / "demo-wechat"))
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    load_shop(app, DEMO_SHOP)
    yield app
    server.shutdown()
    db.dispose(app)


def phone(client, openid: str = "demo-shopper") -> list[dict]:
    return client.get(FEED, query_string={"openid": openid}).get_json()["items"]


def said(entries: list[dict], sender: str) -> list[str]:
    return [e["msg"]["text"]["content"] for e in entries if e["from"] == sender and e["msg"]["msgtype"] == "text"]


def write(client, openid: str = "demo-shopper", **form):
    return client.post(PUSH, query_string={"openid": openid}, data=form)


def stored(app, openid: str) -> list[Message]:
    with db.new_session(app) as s:
        return s.scalars(select(Message).join(Conversation).where(Conversation.customer.has(external_id=openid))
                         .order_by(Message.id)).all()


def alice_replies(app, reply: dict | None = None, **multipart) -> int:
    """alice logs in, comes online (the waiting shopper is routed to her), and replies; every
    job runs. The conversation's id."""
    client = app.test_client()
    headers = login(client, shop="demo", password="alice-demo-pass")
    assert client.patch("/api/v1/me", json={"status": "online"}, headers=headers).status_code == 200
    run_jobs(app)
    conversation = client.get("/api/v1/conversations", headers=headers).get_json()["items"][0]
    assert conversation["agent"]["username"] == "alice"
    sent = client.post(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers,
                       **({"data": multipart} if multipart else {"json": reply}))
    assert sent.status_code == 201, sent.get_json()
    run_jobs(app)
    return conversation["id"]


def test_outside_demo_mode_nothing_is_served(client):
    for path in ("/demo/shopper/demo-oa", FEED, "/demo/wechat-api/cgi-bin/token?appid=x&secret=y"):
        assert client.get(path).status_code == 404


def test_only_a_sandbox_channel_has_a_shopper_page(demo):
    load_shop(demo, shop_doc())  # acme: a channel with real-looking credentials, not a sandbox
    client = demo.test_client()
    page = client.get("/demo/shopper/demo-oa")
    assert page.status_code == 200 and "演示沙箱" in page.get_data(as_text=True)
    assert client.get("/demo/shopper/acme-oa").status_code == 404
    assert write(client, kind="text", text="hi").status_code == 200
    assert client.post("/demo/shopper/acme-oa/push", data={"kind": "text", "text": "hi"}).status_code == 404


def test_a_keyword_is_answered_on_the_phone_as_a_passive_reply(demo):
    client = demo.test_client()
    assert write(client, kind="text", text="发货").get_json() == {"status": 200}
    entries = phone(client)
    assert [(e["from"], e["via"]) for e in entries] == [("shopper", "push"), ("shop", "passive")]
    assert said(entries, "shop") == ["亲，付款后 48 小时内发货，节假日顺延。"]
    assert [m.text for m in stored(demo, "demo-shopper")] == ["发货", "亲，付款后 48 小时内发货，节假日顺延。"]


def test_what_the_bridge_and_the_agent_send_reaches_the_phone(demo, fake_wechat):
    client = demo.test_client()
    write(client, kind="text", text="你好，在吗")
    run_jobs(demo)
    alice_replies(demo, {"type": "text", "text": "亲，在的"})
    shop_said = said(phone(client), "shop")
    assert shop_said[0] in (DEMO_SHOP["shops"][0]["settings"]["no_agent_message"],
                            DEMO_SHOP["shops"][0]["settings"]["off_hours_message"])
    assert shop_said[1:] == ["您好，我是Alice，请问有什么可以帮您？", "亲，在的"]
    deliveries = {m.text: m.delivery for m in stored(demo, "demo-shopper") if m.direction == "out"}
    assert set(deliveries.values()) == {"sent"}
    assert fake_wechat.calls == []  # the sandbox never reached WECHAT_API_BASE


def test_an_agents_image_is_shown_on_the_phone(demo):
    client = demo.test_client()
    write(client, kind="text", text="你好")
    alice_replies(demo, image=(io.BytesIO(PNG), "a.png", "image/png"))
    image = [e for e in phone(client) if e["msg"]["msgtype"] == "image"]
    assert len(image) == 1 and image[0]["via"] == "custom"
    shown = client.get("/demo/wechat-api/media/" + image[0]["msg"]["image"]["media_id"])
    assert shown.status_code == 200 and shown.data == PNG and shown.mimetype == "image/png"


def test_every_kind_the_shopper_page_offers_is_a_push_the_bridge_understands(demo):
    client = demo.test_client()
    assert write(client, "fan", kind="follow", key="vip").status_code == 200
    assert write(client, "fan", kind="click", key="AFTERSALES").status_code == 200
    assert write(client, "fan", kind="scan", key="vip").status_code == 200
    assert client.post(PUSH, query_string={"openid": "fan"}, data={
        "kind": "image", "image": (io.BytesIO(PNG), "p.png")}).get_json() == {"status": 200}
    assert write(client, "fan", kind="unfollow").status_code == 200
    entries = phone(client, "fan")
    assert [e["msg"]["msgtype"] for e in entries if e["from"] == "shopper"] == [
        "event", "event", "event", "image", "event"]
    rows = stored(demo, "fan")
    pictures = [m for m in rows if m.type == "image" and m.direction == "in"]
    assert len(pictures) == 1
    with db.new_session(demo) as s:
        customer = s.scalar(select(Customer).where(Customer.external_id == "fan"))
        assert (customer.entry_scene, customer.entry_menu) == ("vip", "AFTERSALES")


@pytest.mark.parametrize("form, problem", [
    ({"kind": "text", "text": "   "}, "text"),
    ({"kind": "image"}, "image"),
    ({"kind": "click"}, "key"),
    ({"kind": "scan"}, "key"),
    ({"kind": "dance"}, "kind"),
])
def test_a_bad_shopper_action_is_refused_and_stores_nothing(demo, form, problem):
    client = demo.test_client()
    answer = write(client, **form)
    assert answer.status_code == 400 and answer.get_json()["error"]["message"].startswith(problem)
    assert phone(client) == [] and stored(demo, "demo-shopper") == []
    assert client.get("/demo/shopper/demo-oa", query_string={"openid": "<script>"}).status_code == 400


def test_the_stand_in_speaks_wechats_errors(demo):
    api = demo.config["DEMO_URL"] + "/demo/wechat-api/cgi-bin"
    app_id = DEMO_SHOP["shops"][0]["channels"][0]["app_id"]
    secret = DEMO_SHOP["shops"][0]["channels"][0]["app_secret"]
    assert requests.get(api + "/token", params={"appid": "wx0000000000000000", "secret": "x"}).json()["errcode"] == 40013
    assert requests.get(api + "/token", params={"appid": app_id, "secret": "wrong"}).json()["errcode"] == 40125
    token = requests.post(api + "/stable_token", json={"appid": app_id, "secret": secret,
                                                       "grant_type": "client_credential"}).json()["access_token"]
    send = api + "/message/custom/send"
    assert requests.post(send, params={"access_token": "forged"}, json={}).json()["errcode"] == 40001
    assert requests.post(send, params={"access_token": token}, json={
        "touser": "u", "msgtype": "image", "image": {"media_id": "MEDIA_" + "0" * 24}}).json()["errcode"] == 40007
    assert requests.post(send, params={"access_token": token}, json={"touser": "u", "msgtype": "text"}).json()[
        "errcode"] == 47001
    assert requests.post(send, params={"access_token": token}, json={
        "touser": "u", "msgtype": "text", "text": {"content": "hi"}}).json() == {"errcode": 0, "errmsg": "ok"}


def test_a_sandbox_channel_outside_demo_mode_fails_visibly_and_calls_no_wechat(app, client, fake_wechat):
    load_shop(app, DEMO_SHOP)
    channel = DEMO_SHOP["shops"][0]["channels"][0]
    assert post_oa(client, "demo-oa", channel["token"], text_xml("shopper", "你好"), "safe",
                   aes_key=channel["encoding_aes_key"], app_id=channel["app_id"]).status_code == 200
    alice_replies(app, {"type": "text", "text": "在的"})
    out = [m for m in stored(app, "shopper") if m.direction == "out"]
    assert out and {m.delivery for m in out} == {"failed"}
    assert all("sandbox" in m.error_message for m in out)
    assert fake_wechat.calls == []


def test_a_shoppers_image_is_fetched_from_the_stand_in_and_kept(demo):
    client = demo.test_client()
    assert client.post(PUSH, query_string={"openid": "snap"}, data={
        "kind": "image", "image": (io.BytesIO(PNG), "p.png")}).get_json() == {"status": 200}
    run_jobs(demo)
    picture = next(m for m in stored(demo, "snap") if m.type == "image" and m.direction == "in")
    assert picture.media["state"] == "stored" and picture.media["content_type"] == "image/png"
    assert demo.extensions["media_store"].get(picture.media["sha256"]) == PNG


def test_the_demo_shop_page_carries_the_widgets_tag_from_the_bridges_own_address(demo):
    client = demo.test_client()
    page = client.get("/demo/shop/demo-web?scene=vip")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f'src="{demo.config["DEMO_URL"]}/widget/demo-web/widget.js"' in html and 'data-scene="vip"' in html
    assert client.get("/demo/shop/demo-oa").status_code == 404  # not a widget channel
    assert 'data-scene="&lt;script&gt;"' in client.get("/demo/shop/demo-web?scene=<script>").get_data(as_text=True)
    widget = client.get("/widget/demo-web/widget.js")
    assert widget.status_code == 200 and widget.mimetype == "application/javascript"
