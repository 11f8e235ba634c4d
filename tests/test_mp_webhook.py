"""The Mini Program channel end to end on SQLite and PostgreSQL: signed pushes in JSON and XML
stored once and acknowledged `success`; the 客服 button's session-from routing the shopper by
entry_routes; keyword answers, notices and agents' replies sent through the customer-service
API with the Mini Program's own token (never the OA's), inside the Mini Program's caps; and
hostile pushes refused, storing nothing."""
from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select

from adapters.wechat.mp_push import enter_push, mp_push, signed, text_push
from bridge.infra import db
from bridge.models import Customer, InboundReceipt, Message
from tests.factories import BASE_SHOP, load_shop, login, post_acme, shop_doc, text_xml
from tests.test_delivery import run_jobs
from tests.test_delivery_images import PNG

MP_APP, MP_SECRET, MP_TOKEN = "wx00000000000000c3", "secret-c3", "mptoken"
SAFE_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
CHANNELS = [{"kind": "wechat_mp", "key": "acme-mp", "app_id": MP_APP, "app_secret": MP_SECRET, "token": MP_TOKEN},
            {"kind": "wechat_mp", "key": "acme-mp-safe", "app_id": "wx00000000000000d4", "app_secret": "secret-d4",
             "token": MP_TOKEN, "encoding_aes_key": SAFE_KEY, "data_format": "xml"}]


@pytest.fixture
def mp(app, fake_wechat):
    fake_wechat.register_app(MP_APP, MP_SECRET)
    fake_wechat.register_app("wx00000000000000d4", "secret-d4")
    return load_shop(app, shop_doc(channels=copy.deepcopy(BASE_SHOP["channels"]) + CHANNELS,
                                   entry_routes=[{"when": {"scene": "vip"}, "group": "presales"}],
                                   settings={"routing": "least_load", "welcome_message": "您好，我是{agent}"}))


def push(client, push_fields: dict, fmt: str = "json", channel: str = "acme-mp", mode: str = "plain",
         app_id: str = MP_APP):
    args, body = signed(MP_TOKEN, push_fields, fmt, mode, SAFE_KEY if mode != "plain" else None, app_id)
    return client.post(f"/hooks/wechat-mp/{channel}", query_string=args, data=body, content_type="text/xml")


def count(app, model) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_push_is_stored_once_and_acknowledged_success(app, client, mp, fmt):
    text = text_push("o-mp-1", "M码还有吗")
    for _ in range(3):  # WeChat's retries of one MsgId
        resp = push(client, text, fmt)
        assert resp.status_code == 200 and resp.get_data(as_text=True) == "success"
    page = mp_push("o-mp-1", "miniprogrampage", {"Title": "夏季连衣裙", "AppId": MP_APP, "ThumbUrl": "",
                                                 "PagePath": "pages/item/item?id=42", "ThumbMediaId": ""})
    assert push(client, page, fmt).get_data(as_text=True) == "success"
    with db.new_session(app) as s:
        rows = s.execute(select(Message.type, Message.text, Message.media).where(Message.sender == "customer")
                         .order_by(Message.id)).all()
    assert [(t, x) for t, x, _ in rows] == [("text", "M码还有吗"), ("miniprogrampage", "夏季连衣裙")]
    assert rows[1][2]["page_path"] == "pages/item/item?id=42"
    [row] = client.get("/api/v1/conversations", headers=login(client)).get_json()["items"]
    assert row["channel"] == {"key": "acme-mp", "kind": "wechat_mp"} and row["state"] == "queued"


def test_safe_mode_xml_and_json_both_land(app, client, mp):
    for fmt in ("xml", "json"):
        resp = push(client, text_push(f"o-safe-{fmt}", "加密的"), fmt, "acme-mp-safe", "safe", "wx00000000000000d4")
        assert resp.get_data(as_text=True) == "success", resp.get_data(as_text=True)
    assert count(app, Message) == 2
    resp = push(client, text_push("o-x", "明文"), "json", "acme-mp-safe")  # in the clear on a safe channel
    assert resp.status_code == 400 and count(app, Message) == 2


def test_the_kefu_buttons_session_from_routes_the_shopper(app, client, mp):
    tap = enter_push("o-vip", "vip")
    assert push(client, tap).get_data(as_text=True) == "success"
    assert push(client, tap).status_code == 200  # a retry: the same From + CreateTime
    assert count(app, InboundReceipt) == 1
    for who in ("alice", "bob"):  # alice is in presales, bob in no group
        assert client.patch("/api/v1/me", headers=login(client, who), json={"status": "online"}).status_code == 200
    push(client, text_push("o-vip", "在吗"))
    run_jobs(app)
    [row] = client.get("/api/v1/conversations?state=active", headers=login(client)).get_json()["items"]
    assert (row["customer"]["external_id"], row["group"], row["agent"]["username"]) == ("o-vip", "presales", "alice")
    with db.new_session(app) as s:
        assert s.scalar(select(Customer.entry_scene).where(Customer.external_id == "o-vip")) == "vip"


def test_keyword_answers_go_through_the_api_with_the_mini_programs_own_token(app, client, mp, fake_wechat):
    assert push(client, text_push("o-mp-kw", "什么时候发货")).get_data(as_text=True) == "success"  # no passive reply
    post_acme(client, text_xml("o-oa-kw", "什么时候发货"))  # the OA of the same shop: its passive reply
    run_jobs(app)
    [sent] = fake_wechat.sent("o-mp-kw")
    assert sent == {"touser": "o-mp-kw", "msgtype": "text", "text": {"content": "48小时内发货"}}
    assert fake_wechat.sent("o-oa-kw") == []
    owners = {fake_wechat.token_owner(c.query.get("access_token"))[0]
              for c in fake_wechat.calls if c.path == "/cgi-bin/message/custom/send"}
    assert owners == {MP_APP}


def test_an_agents_reply_and_the_welcome_reach_the_shopper(app, client, mp, fake_wechat):
    push(client, text_push("o-mp-2", "你好"))
    alice = login(client)
    assert client.patch("/api/v1/me", headers=alice, json={"status": "online"}).status_code == 200
    [row] = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
    reply = {"type": "text", "text": "在的亲"}
    resp = client.post(f"/api/v1/conversations/{row['id']}/messages", headers=alice, json=reply)
    assert resp.status_code == 201
    run_jobs(app)
    assert [m["text"]["content"] for m in fake_wechat.sent("o-mp-2")] == ["您好，我是Alice", "在的亲"]
    detail = client.get(f"/api/v1/conversations/{row['id']}", headers=alice).get_json()
    assert detail["send_window"]["sends_left"] == 3


def test_the_mini_programs_caps_two_in_a_minute_after_entering_five_in_48_hours_after_a_message(
        app, client, mp, fake_wechat):
    """Tapping 客服 opens a minute for 2 messages; a message opens 48 hours for 5. A sixth is
    refused before WeChat is called, and the agent sees why (cap_reached)."""
    push(client, enter_push("o-cap", "home"))
    window = lambda: _window(app, "o-cap")  # noqa: E731
    quota, seconds = window()
    assert quota == 2 and 55 <= seconds <= 60
    push(client, text_push("o-cap", "问个问题"))
    quota, seconds = window()
    assert quota == 5 and 48 * 3600 - 10 <= seconds <= 48 * 3600
    alice = login(client)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})  # the welcome: one of the five
    [row] = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
    for n in range(5):
        reply = {"type": "text", "text": f"r{n}"}
        client.post(f"/api/v1/conversations/{row['id']}/messages", headers=alice, json=reply)
    run_jobs(app)
    assert len(fake_wechat.sent("o-cap")) == 5
    messages = client.get(f"/api/v1/conversations/{row['id']}/messages", headers=alice).get_json()["items"]
    last = [m for m in messages if m["text"] == "r4"][0]["delivery"]
    assert last["state"] == "failed" and last["error"]["code"] == "cap_reached"


def _window(app, openid: str) -> tuple[int, float]:
    from datetime import datetime, timezone
    with db.new_session(app) as s:
        quota, expires = s.execute(select(Customer.window_quota, Customer.window_expires_at)
                                   .where(Customer.external_id == openid)).one()
    return quota, (expires - datetime.now(timezone.utc)).total_seconds()


@pytest.mark.parametrize("name, args_change, body", [
    ("bad signature", {"signature": "0" * 40}, None),
    ("stale timestamp", {"timestamp": "1000"}, None),
    ("malformed JSON", {}, b'{"ToUserName": "gh", '),
    ("DOCTYPE", {}, b'<!DOCTYPE x [<!ENTITY e "b">]><xml><FromUserName>&e;</FromUserName></xml>'),
    ("over the cap", {}, b'{"Content": "' + b"x" * 70_000 + b'"}'),
])
def test_hostile_pushes_are_refused_and_store_nothing(app, client, mp, name, args_change, body):
    args, good = signed(MP_TOKEN, text_push("o-bad", "hi"))
    resp = client.post("/hooks/wechat-mp/acme-mp", query_string={**args, **args_change}, data=body or good,
                       content_type="text/xml")
    assert 400 <= resp.status_code < 500
    assert count(app, Message) == 0 and count(app, Customer) == 0


def test_get_verification_echoes(client, mp):
    args, _ = signed(MP_TOKEN, {})
    resp = client.get("/hooks/wechat-mp/acme-mp", query_string={**args, "echostr": "4375120948345356249"})
    assert resp.get_data(as_text=True) == "4375120948345356249"
    assert client.get("/hooks/wechat-mp/acme-mp", query_string={**args, "signature": "0" * 40}).status_code == 403


def test_a_shared_pages_thumbnail_is_fetched_and_kept(app, client, mp, fake_wechat):
    fake_wechat.keep_media("thumb-1", PNG, "image/png")
    shared = {"Title": "连衣裙", "AppId": MP_APP, "ThumbUrl": "", "PagePath": "pages/item/item?id=1",
              "ThumbMediaId": "thumb-1"}
    push(client, mp_push("o-mp-page", "miniprogrampage", shared))
    run_jobs(app)
    with db.new_session(app) as s:
        media = s.scalar(select(Message.media).where(Message.type == "miniprogrampage"))
    assert media["state"] == "stored" and media["content_type"] == "image/png" and media["title"] == "连衣裙"


def test_wechats_45047_is_final_and_shown(app, client, mp, fake_wechat):
    push(client, text_push("o-mp-cap", "你好"))
    alice = login(client)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})
    [row] = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
    run_jobs(app)  # the welcome
    fake_wechat.fail_next("/cgi-bin/message/custom/send", 45047)
    client.post(f"/api/v1/conversations/{row['id']}/messages", headers=alice, json={"type": "text", "text": "在的"})
    run_jobs(app)
    [reply] = [m for m in client.get(f"/api/v1/conversations/{row['id']}/messages", headers=alice).get_json()["items"]
               if m["text"] == "在的"]
    assert reply["delivery"]["state"] == "failed" and reply["delivery"]["error"]["code"] == "45047"


def test_a_shoppers_image_is_fetched_with_the_mini_programs_token(app, client, mp, fake_wechat):
    fake_wechat.keep_media("m-mp-photo", PNG, "image/png")
    push(client, mp_push("o-mp-img", "image", {"PicUrl": "https://mmbiz.qpic.cn/x", "MediaId": "m-mp-photo"}))
    run_jobs(app)
    with db.new_session(app) as s:
        media = s.scalar(select(Message.media).where(Message.type == "image"))
    assert media["state"] == "stored" and media["content_type"] == "image/png"
    [call] = [c for c in fake_wechat.calls if c.path == "/cgi-bin/media/get"]
    assert call.query["media_id"] == "m-mp-photo"
    assert fake_wechat.token_owner(call.query["access_token"])[0] == MP_APP
