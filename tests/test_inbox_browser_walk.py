"""The agent inbox in a real browser: a shopper writes through the signed Official Account
webhook and appears live in the agent's 我的 with a countdown; the reply reaches the fake
WeChat API and shows 已发送; a double click sends one message; WeChat's 45015 shows its reason
in plain words; a transfer moves the shopper to the other agent's page; the end sends the
rating card and the shopper's answer shows on the agent's screen; messages that arrive while
the agent's network is down all show, once, after it; the phone layout shows one view at a
time. Notes and tags in the panel: tests/test_inbox_panel_browser.py. Screenshots go to the
folder the test prints.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import func, select

from bridge.infra import db
from bridge.models import Message
from tests.conftest import make_app
from tests.factories import load_shop, shop_doc, signed, text_xml
from tests.live_inbox import serving

SETTINGS = {"routing": "least_load", "rating_on_end": True,
            "welcome_message": "您好，我是{agent}，请问有什么可以帮您？"}
SHOTS = Path(tempfile.gettempdir()) / "kefu-inbox-screens"


@pytest.fixture
def inbox(pg_url, real_redis_url, fake_wechat):
    app = make_app(pg_url, real_redis_url, fake_wechat.url)
    load_shop(app, shop_doc(settings=SETTINGS))
    SHOTS.mkdir(exist_ok=True)
    print(f"\nscreenshots: {SHOTS}")
    with serving(app):
        yield app
    db.dispose(app)


def shopper_writes(app, openid: str, text: str, msg_id: int | None = None) -> None:
    args, body = signed("acmetoken", text_xml(openid, text, **({"msg_id": msg_id} if msg_id else {})))
    assert requests.post(f"{app.base}/hooks/wechat-oa/acme-oa", params=args, data=body, timeout=5).status_code == 200


def signed_in(browser, app, username: str, width: int = 1280, height: int = 800, before=None):  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    page = context.new_page()
    if before is not None:
        before(page)
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(app.base + "/inbox/")
    page.fill("input[name=shop]", "acme")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-password")
    page.press("input[name=password]", "Enter")
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    return context, page


def go_online(page) -> None:
    page.select_option("select[name=status]", "online")
    expect(page.locator("select[name=status]")).to_have_attribute("data-status", "online")


def stored(app, text: str) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(func.count()).select_from(Message).where(Message.text == text))


def test_two_agents_work_a_shift(browser, inbox, fake_wechat):  # noqa: F811
    fake = fake_wechat
    bob_ctx, bob = signed_in(browser, inbox, "bob")
    alice_ctx, alice = signed_in(browser, inbox, "alice")
    go_online(bob)

    # A shopper writes: bob's 我的 shows it without a reload, with a countdown.
    shopper_writes(inbox, "o-walk", "你好，这件衣服有M码吗")
    row = bob.locator(".row", has_text="o-walk")
    expect(row).to_be_visible()
    expect(bob.locator("[data-tab=mine] .count")).to_have_text("1")
    expect(row.locator(".timer")).not_to_have_text("")
    row.click()
    expect(bob.locator(".msg.from-customer", has_text="这件衣服有M码吗")).to_have_count(1)
    bob.screenshot(path=str(SHOTS / "1-chat.png"))

    # A reply: the composer empties, the message goes 发送中 → 已发送 once WeChat has it.
    bob.fill("textarea[name=text]", "亲，有的，M码还有货")
    bob.press("textarea[name=text]", "Enter")
    expect(bob.locator("textarea[name=text]")).to_have_value("")
    sent = bob.locator(".msg.from-agent", has_text="M码还有货")
    expect(sent).to_have_attribute("data-delivery", "sent")
    expect(sent).to_contain_text("已发送")
    assert any(m.get("text", {}).get("content") == "亲，有的，M码还有货" for m in fake.sent("o-walk"))

    # A double click sends one message.
    bob.fill("textarea[name=text]", "双击只发一条")
    bob.dblclick("button.send")
    expect(bob.locator(".msg.from-agent", has_text="双击只发一条")).to_have_count(1)
    time.sleep(0.5)
    expect(bob.locator(".msg.from-agent", has_text="双击只发一条")).to_have_count(1)
    assert stored(inbox, "双击只发一条") == 1

    bob_ctx.close()
    alice_ctx.close()


def test_a_closed_window_a_transfer_the_end_and_the_rating(browser, inbox, fake_wechat):  # noqa: F811
    fake = fake_wechat
    bob_ctx, bob = signed_in(browser, inbox, "bob")
    alice_ctx, alice = signed_in(browser, inbox, "alice")
    go_online(bob)
    shopper_writes(inbox, "o-late", "我的快递到哪了")
    bob.locator(".row", has_text="o-late").click()
    expect(bob.locator(".msg.from-customer", has_text="快递到哪了")).to_have_count(1)

    # WeChat refuses with 45015: the message fails with the reason in words, and no retry.
    fake.fail_next("/cgi-bin/message/custom/send", 45015)
    bob.fill("textarea[name=text]", "帮您查一下")
    bob.press("textarea[name=text]", "Enter")
    refused = bob.locator(".msg.from-agent", has_text="帮您查一下")
    expect(refused).to_have_attribute("data-delivery", "failed", timeout=15_000)
    expect(refused.locator(".reason")).to_contain_text("48 小时")
    expect(refused.locator("button.retry")).to_have_count(0)
    expect(bob.locator("[data-send-window]")).to_contain_text("已超过 48 小时")  # the composer knows too
    expect(bob.locator(".agent-bar .load")).to_have_text("接待中 1/10")
    bob.screenshot(path=str(SHOTS / "2-refused.png"))

    # The bridge believes WeChat: its window is closed until the shopper writes again.
    shopper_writes(inbox, "o-late", "还在吗")
    expect(bob.locator(".msg.from-customer", has_text="还在吗")).to_have_count(1)
    expect(bob.locator("[data-send-window]")).to_contain_text("还可发 5 条 · 47 小时内")

    # A transfer to alice, who has room: the shopper leaves bob's 我的 and appears in hers.
    go_online(alice)
    bob.click("[data-action=transfer]")
    bob.click("dialog.transfer button[data-agent=alice]")
    expect(bob.locator("[data-tab=mine] .count")).to_have_text("0")
    expect(bob.locator(".agent-bar .load")).to_have_text("接待中 0/10")
    expect(alice.locator(".row", has_text="o-late")).to_be_visible()
    transfer_notice = [m["text"]["content"] for m in _sent_eventually(fake, "o-late", "转接") if "转接" in str(m)]
    assert transfer_notice == ["已为您转接客服Alice"]

    # Alice ends it: the rating card goes out; the shopper's 5 shows on her screen.
    alice.locator(".row", has_text="o-late").click()
    alice.click("[data-action=end]")
    expect(alice.locator(".chat-head .who")).to_contain_text("已结束")
    assert _sent_eventually(fake, "o-late", "评价")
    shopper_writes(inbox, "o-late", "5")
    expect(alice.locator(".chat-head [data-rating-score='5']")).to_contain_text("★★★★★")
    alice.screenshot(path=str(SHOTS / "3-rated.png"))
    bob_ctx.close()
    alice_ctx.close()


def _sent_eventually(fake, openid: str, words: str, seconds: float = 10) -> list[dict]:
    """What the fake WeChat API was asked to send OPENID, once a text holding WORDS is among it."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sent = fake.sent(openid)
        if any(words in m.get("text", {}).get("content", "") for m in sent):
            return sent
        time.sleep(0.1)
    raise AssertionError(f"nothing with {words!r} was sent to {openid}: {fake.sent(openid)}")


def test_messages_during_a_network_drop_show_once_after_it(browser, inbox):  # noqa: F811
    context, bob = signed_in(browser, inbox, "bob")
    go_online(bob)
    shopper_writes(inbox, "o-drop", "第一条")
    bob.locator(".row", has_text="o-drop").click()
    expect(bob.locator(".msg.from-customer", has_text="第一条")).to_have_count(1)

    context.set_offline(True)
    expect(bob.locator(".live-banner")).to_be_visible()
    for n in range(2, 5):
        shopper_writes(inbox, "o-drop", f"断网时第{n}条")
    bob.screenshot(path=str(SHOTS / "4-offline.png"))
    context.set_offline(False)
    expect(bob.locator(".live-banner")).to_be_hidden(timeout=15_000)
    for n in range(2, 5):
        expect(bob.locator(".msg.from-customer", has_text=f"断网时第{n}条")).to_have_count(1)
    time.sleep(1)  # anything told twice would have shown by now
    assert bob.locator(".msg.from-customer").count() == 4
    assert bob.locator(".msg").evaluate_all("nodes => nodes.map(n => n.dataset.messageId)") == sorted(
        bob.locator(".msg").evaluate_all("nodes => nodes.map(n => n.dataset.messageId)"), key=int)
    context.close()


def test_what_happens_before_the_stream_connects_is_not_lost(browser, inbox, fake_wechat):  # noqa: F811
    """The page's stream cannot connect at first; meanwhile bob goes online and a shopper is
    assigned to him. When the stream connects it starts from where the page was made, so the
    assignment shows — it would be lost if the stream started from wherever it connected.
    (The route is removed, not continued: a routed event stream reaches the page only at its end.)"""
    streams = "**/api/v1/events*"
    context, bob = signed_in(browser, inbox, "bob", before=lambda page: page.route(streams, lambda r: r.abort()))
    go_online(bob)
    shopper_writes(inbox, "o-early", "你们几点下班")
    assert _sent_eventually(fake_wechat, "o-early", "Bob")  # assigned: bob's welcome went out
    expect(bob.locator(".live-banner")).to_be_visible()
    bob.unroute(streams)
    expect(bob.locator(".row", has_text="early")).to_be_visible(timeout=40_000)  # the openid's last 6
    expect(bob.locator("[data-tab=mine] .count")).to_have_text("1")
    expect(bob.locator(".live-banner")).to_be_hidden()
    context.close()


def test_the_phone_layout_is_one_view_at_a_time(browser, inbox):  # noqa: F811
    context, phone = signed_in(browser, inbox, "bob", width=390, height=844)
    go_online(phone)
    shopper_writes(inbox, "o-phone", "手机上看得到吗")
    expect(phone.locator("[data-tab=mine] .count")).to_have_text("1", timeout=15_000)
    phone.locator(".row", has_text="phone").click()  # a shopper without a nickname: the openid's tail
    expect(phone.locator("#chat")).to_be_visible()
    expect(phone.locator("#conversation-list")).to_be_hidden()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.evaluate("getComputedStyle(document.querySelector('textarea[name=text]')).fontSize") == "16px"
    phone.screenshot(path=str(SHOTS / "5-phone-chat.png"))
    phone.click("#chat .back")
    expect(phone.locator("#conversation-list")).to_be_visible()
    phone.screenshot(path=str(SHOTS / "6-phone-list.png"))
    context.close()


NOTIFICATIONS = """
window.__notes = [];
window.Notification = class {
  constructor(title, options) { window.__notes.push({ title, body: (options || {}).body }); }
  close() {}
  static get permission() { return "granted"; }
  static requestPermission() { return Promise.resolve("granted"); }
};
"""


def test_notifications_tell_repeat_and_can_be_switched_off(browser, inbox):  # noqa: F811
    """Desktop notifications are recorded by a stand-in of the browser's Notification; the page's
    clock is playwright's, so 3 minutes pass in a moment."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    context.add_init_script(NOTIFICATIONS)
    page = context.new_page()
    page.clock.install()
    page.goto(inbox.base + "/inbox/")
    page.fill("input[name=shop]", "acme")
    page.fill("input[name=username]", "bob")
    page.fill("input[name=password]", "bob-password")
    page.press("input[name=password]", "Enter")
    expect(page.locator("body[data-ready=true]")).to_have_count(1)
    go_online(page)
    notes = lambda: page.evaluate("window.__notes")  # noqa: E731

    # A new shopper for bob: a desktop notification; the sound waits for a click and says so.
    shopper_writes(inbox, "o-ring", "有人吗")
    expect(page.locator(".row", has_text="o-ring")).to_be_visible()
    expect(page.locator(".sound-prompt")).to_be_visible()
    assert [n["title"] for n in notes()] == ["新顾客接入"]
    assert page.title().startswith("(1) ")  # the unread count in the tab's title

    # The row's countdown turns amber at 2 minutes and red at 3; unanswered for over 3 minutes
    # the shopper is told again every 30 s until bob opens the conversation.
    timer = page.locator(".row", has_text="o-ring").locator("[data-timer]")
    page.clock.fast_forward("02:05")
    expect(timer).to_have_class("timer amber")
    page.clock.fast_forward("01:26")
    expect(timer).to_have_class("timer red")
    page.screenshot(path=str(SHOTS / "8-overdue.png"))
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and not any("3 分钟" in n["title"] for n in notes()):
        time.sleep(0.1)
    assert any(n["title"] == "1 位顾客等待超过 3 分钟" for n in notes())
    page.locator(".row", has_text="o-ring").click()
    expect(page.locator(".msg.from-customer", has_text="有人吗")).to_have_count(1)
    told = len(notes())
    page.clock.fast_forward("01:00")
    time.sleep(0.5)
    assert len(notes()) == told  # acknowledged: no more repeats

    # Desktop notifications off: the next shopper rings nothing on the desktop.
    page.locator("label.pref", has_text="桌面通知").locator("input").uncheck()
    shopper_writes(inbox, "o-quiet", "还有我")
    expect(page.locator(".row", has_text="quiet")).to_be_visible()  # a short id: the openid's last 6
    time.sleep(0.5)
    assert len(notes()) == told
    context.close()


def test_drafts_stay_with_their_conversation_and_the_keyboard_moves_between_them(browser, inbox):  # noqa: F811
    context, bob = signed_in(browser, inbox, "bob")
    go_online(bob)
    shopper_writes(inbox, "o-first", "第一位顾客")
    expect(bob.locator("[data-tab=mine] .count")).to_have_text("1")
    shopper_writes(inbox, "o-second", "第二位顾客")
    expect(bob.locator("[data-tab=mine] .count")).to_have_text("2")
    first, second = bob.locator(".row", has_text="-first"), bob.locator(".row", has_text="second")

    first.click()
    bob.fill("textarea[name=text]", "写给第一位的草稿")
    second.click()
    expect(bob.locator(".msg.from-customer", has_text="第二位顾客")).to_have_count(1)
    expect(bob.locator("textarea[name=text]")).to_have_value("")  # never in another conversation
    bob.fill("textarea[name=text]", "写给第二位的草稿\n第二行")
    first.click()
    expect(bob.locator("textarea[name=text]")).to_have_value("写给第一位的草稿")

    bob.reload()  # drafts survive a reload
    expect(bob.locator("body[data-ready=true]")).to_have_count(1)
    bob.locator(".row", has_text="second").click()
    expect(bob.locator("textarea[name=text]")).to_have_value("写给第二位的草稿\n第二行")

    # Alt+↓ / Alt+↑ move between conversations; "?" (outside the composer) shows the keys.
    bob.press("textarea[name=text]", "Alt+ArrowDown")
    expect(bob.locator(".msg.from-customer", has_text="第一位顾客")).to_have_count(1)
    expect(bob.locator("textarea[name=text]")).to_have_value("写给第一位的草稿")
    bob.press("textarea[name=text]", "Alt+ArrowUp")
    expect(bob.locator(".msg.from-customer", has_text="第二位顾客")).to_have_count(1)
    bob.locator(".chat-head .who").click()
    bob.keyboard.press("?")
    expect(bob.locator("dialog.help")).to_contain_text("下一个 / 上一个会话")
    bob.screenshot(path=str(SHOTS / "7-keys.png"))
    context.close()
