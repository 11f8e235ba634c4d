"""A Mini Program shopper in the agent's inbox, in a real browser: the 客服 tap from a `vip`
page and a message, routed to the vip group's agent; the row and the panel say 小程序; a page
card the shopper shares shows as a card; the agent's typing shows the shopper 正在输入; the
reply reaches WeChat's API under the Mini Program's own app and shows 已发送. Screenshot:
12-mini-program.png."""
from __future__ import annotations

import copy
import time

import pytest
import requests
from playwright.sync_api import expect

from adapters.wechat.mp_push import enter_push, mp_push, signed, text_push
from bridge.infra import db
from tests.conftest import make_app
from tests.factories import BASE_SHOP, load_shop, shop_doc
from tests.live_inbox import serving
from tests.test_inbox_browser_walk import SETTINGS, SHOTS, go_online, signed_in
from tests.test_mp_webhook import CHANNELS, MP_APP, MP_TOKEN


@pytest.fixture
def inbox(pg_url, real_redis_url, fake_wechat):
    fake_wechat.register_app(MP_APP, "secret-c3")
    app = make_app(pg_url, real_redis_url, fake_wechat.url)
    load_shop(app, shop_doc(settings=SETTINGS, channels=copy.deepcopy(BASE_SHOP["channels"]) + CHANNELS,
                            entry_routes=[{"when": {"scene": "vip"}, "group": "presales"}]))
    SHOTS.mkdir(exist_ok=True)
    with serving(app):
        yield app
    db.dispose(app)


def mp_writes(app, push: dict) -> None:
    args, body = signed(MP_TOKEN, push)
    resp = requests.post(f"{app.base}/hooks/wechat-mp/acme-mp", params=args, data=body,
                         headers={"Content-Type": "text/xml"}, timeout=5)
    assert resp.text == "success"


def typing_calls(fake):
    return [c for c in fake.calls if c.path == "/cgi-bin/message/custom/business/typing"]


def test_a_mini_program_shopper_is_served_in_the_inbox(browser, inbox, fake_wechat):  # noqa: F811
    context, alice = signed_in(browser, inbox, "alice")  # alice is in presales, where `vip` routes
    go_online(alice)
    mp_writes(inbox, enter_push("o-mini", "vip"))
    mp_writes(inbox, text_push("o-mini", "这条裙子有S码吗"))
    row = alice.locator(".row", has_text="o-mini")
    expect(row).to_contain_text("小程序")
    row.click()
    expect(alice.locator("#panel dd", has_text="小程序（acme-mp）")).to_be_visible()
    expect(alice.locator("#panel dt:text-is('来源场景') + dd")).to_have_text("vip")
    mp_writes(inbox, mp_push("o-mini", "miniprogrampage", {
        "Title": "夏季碎花连衣裙", "AppId": MP_APP, "PagePath": "pages/item/item?id=42", "ThumbUrl": "",
        "ThumbMediaId": ""}))
    card = alice.locator(".msg .mp-card")
    expect(card).to_contain_text("夏季碎花连衣裙")
    expect(card).to_contain_text("pages/item/item?id=42")

    text = alice.locator("textarea[name=text]")
    text.type("有的，S码还有3件")  # keystrokes: the shopper's WeChat shows 正在输入 (once: it lasts 15 s)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not typing_calls(fake_wechat):
        time.sleep(0.1)
    assert [c.json for c in typing_calls(fake_wechat)] == [{"touser": "o-mini", "command": "Typing"}]
    text.press("Enter")
    expect(alice.locator(".msg.from-agent", has_text="S码还有3件")).to_have_attribute("data-delivery", "sent")
    sent = [c for c in fake_wechat.calls if c.path == "/cgi-bin/message/custom/send"
            and (c.json or {}).get("touser") == "o-mini"]
    assert [c.json["text"]["content"] for c in sent][-1] == "有的，S码还有3件"
    assert {fake_wechat.token_owner(c.query.get("access_token"))[0] for c in sent} == {MP_APP}
    alice.screenshot(path=str(SHOTS / "12-mini-program.png"))
    context.close()
