"""Blocking, outreach and one shopper across channels, in the inbox, in a real browser: an agent
blocks a shopper from the panel with a reason — the 已拉黑 badge says why, who and when, the
conversation ends without a rating card — and an admin lifts it from 黑名单; an agent finds a
shopper who wrote earlier by an order's number with 发起会话 and writes first — inside WeChat's
window a customer-service message, outside it the Official Account's template message (its
bubble says 以模板消息发送), a shopper who cannot be reached is shown why, and a refusal at the
moment of sending says so; the shop links an OA openid with a widget user, and the panel shows
同一顾客. Screenshots at 1280 and 390 px go to the folder the test prints.
"""
from __future__ import annotations

import copy
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import select, update

from adapters.widget.identity import user_hash
from bridge.infra import db
from bridge.models import Customer
from tests.conftest import make_app
from tests.factories import BASE_SHOP, load_shop, login, shop_doc
from tests.live_inbox import serving
from tests.shop_data_kit import api_key, load, order
from tests.test_inbox_browser_walk import SETTINGS, go_online, shopper_writes, signed_in
from tests.widget_kit import SECRET, WIDGETS

SHOTS = Path(tempfile.gettempdir()) / "kefu-outreach-screens"
TEMPLATE = {"template_id": "TPL-kefu", "url": "https://shop.example/kefu",
            "fields": {"first": "{shop}的客服{agent}给您留言", "keyword1": "{text}", "remark": "点击查看"}}


@pytest.fixture
def shop(pg_url, real_redis_url, fake_wechat):
    """The inbox's shop with its widget channels, and a template notice on acme-oa, served live."""
    app = make_app(pg_url, real_redis_url, fake_wechat.url)
    channels = copy.deepcopy(BASE_SHOP["channels"]) + copy.deepcopy(WIDGETS)
    channels[0]["outreach_template"] = TEMPLATE
    load_shop(app, shop_doc(channels=channels, settings=SETTINGS))
    app.shop_headers = api_key(app)
    SHOTS.mkdir(exist_ok=True)
    print(f"\nscreenshots: {SHOTS}")
    with serving(app):
        yield app
    db.dispose(app)


def customer_id(app, external_id: str) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(Customer.id).where(Customer.external_id == external_id))


def window_closed(app, external_id: str) -> None:
    """The shopper last wrote over 48 hours ago, as WeChat counts it."""
    with db.new_session(app) as s:
        s.execute(update(Customer).where(Customer.external_id == external_id)
                  .values(window_expires_at=datetime.now(timezone.utc) - timedelta(hours=1)))
        s.commit()


def sent_eventually(fake, path: str, touser: str, seconds: float = 10) -> list[dict]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [c.json for c in fake.calls if c.path == path and (c.json or {}).get("touser") == touser]
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"nothing reached {touser} at {path}")


def served_then_ended(page, app, openid: str, text: str = "在吗") -> None:
    """OPENID writes, the agent on PAGE answers nothing and ends the conversation."""
    shopper_writes(app, openid, text)
    page.locator(".row", has_text=openid).click()
    expect(page.locator(".msg.from-customer", has_text=text)).to_have_count(1)
    page.click("[data-action=end]")
    expect(page.locator(".chat-head .who")).to_contain_text("已结束")


def open_history(page, q: str) -> None:
    page.click("[data-tab=history]")
    page.fill("form.search input[name=q]", q)
    page.press("form.search input[name=q]", "Enter")
    page.locator("#conversation-list .row", has_text=q).first.click()


def test_an_agent_blocks_a_shopper_and_an_admin_lifts_it(browser, shop, fake_wechat):
    context, bob = signed_in(browser, shop, "bob")
    go_online(bob)
    shopper_writes(shop, "o-spam", "加我微信领红包")
    bob.locator(".row", has_text="o-spam").click()
    panel = bob.locator("#panel")
    expect(panel.locator("dd", has_text="o-spam")).to_be_visible()

    # 拉黑 asks for the reason in the panel; none given, it says so and blocks nothing.
    panel.locator("[data-action=block]").click()
    reason = panel.locator("input[name=block-reason]")
    expect(reason).to_be_focused()
    panel.locator("[data-action=block]").click()
    expect(panel.locator(".block-error")).to_have_text("请填写拉黑原因")
    reason.fill("广告骚扰")
    bob.screenshot(path=str(SHOTS / "0-block-reason-1280.png"))
    panel.locator("[data-action=block]").click()

    badge = panel.locator(".block.blocked")
    expect(badge.locator(".blocked-badge")).to_have_text("已拉黑")
    expect(badge.locator(".blocked-reason")).to_have_text("原因：广告骚扰")
    expect(badge).to_contain_text("Bob · ")
    expect(panel.locator("[data-action=unblock]")).to_have_count(0)  # an agent cannot lift it
    expect(bob.locator(".chat-head .who")).to_contain_text("已结束")  # what the shopper had open ended
    expect(bob.locator("textarea[name=text]")).to_be_disabled()
    expect(bob.locator("[data-tab=mine] .count")).to_have_text("0")
    bob.screenshot(path=str(SHOTS / "1-blocked-1280.png"))
    time.sleep(1)  # a rating card, were one sent, would have gone by now
    assert not any("评价" in m.get("text", {}).get("content", "") for m in fake_wechat.sent("o-spam"))

    # The phone: the panel of the ended conversation, found in 历史.
    phone_ctx, phone = signed_in(browser, shop, "bob", 390, 844)
    open_history(phone, "o-spam")
    phone.click(".panel-toggle")
    expect(phone.locator("#panel .blocked-badge")).to_be_visible()
    phone.screenshot(path=str(SHOTS / "2-blocked-panel-390.png"))
    phone_ctx.close()
    context.close()

    # The admin sees the block in the panel (with 解除拉黑) and in 黑名单, and lifts it there.
    context, alice = signed_in(browser, shop, "alice")
    open_history(alice, "o-spam")
    expect(alice.locator("#panel [data-action=unblock]")).to_have_text("解除拉黑")
    alice.click("[data-action=blocklist]")
    listed = alice.locator("dialog.blocklist li")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("o-spam")
    expect(listed).to_contain_text("广告骚扰")
    expect(listed).to_contain_text("Bob")
    expect(listed.locator(".channel-word")).to_have_text("公众号")
    alice.screenshot(path=str(SHOTS / "3-blocklist-1280.png"))
    listed.locator("[data-action=unblock]").click()
    expect(alice.locator("dialog.blocklist")).to_contain_text("没有被拉黑的顾客")
    alice.locator("dialog.blocklist").get_by_role("button", name="关闭").click()
    expect(alice.locator("#panel .block.blocked")).to_have_count(0)  # the open panel follows
    expect(alice.locator("#panel [data-action=block]")).to_have_text("拉黑")
    admin = login(shop.test_client())
    assert shop.test_client().get("/api/v1/blocks", headers=admin).get_json()["items"] == []
    context.close()


def test_an_agent_writes_first_to_a_shopper_found_by_order_number(browser, shop, fake_wechat):
    client = shop.test_client()
    load(client, shop.shop_headers, [order("A2001", openid="o-back", days=2), order("A2002", openid="o-late", days=3),
                                     order("A2003", openid="o-long-ago", days=60),
                                     order("A2004", openid="o-gone", days=1)])
    context, bob = signed_in(browser, shop, "bob")
    go_online(bob)
    served_then_ended(bob, shop, "o-back")

    # 发起会话: the order's number finds its buyer, reachable by a customer-service message.
    bob.click("[data-action=outreach]")
    dialog = bob.locator("dialog.outreach")
    dialog.locator("input[name=outreach-q]").fill("A2001")
    found = dialog.locator(".candidate")
    expect(found).to_have_count(1)
    expect(found.locator(".channel-word")).to_have_text("公众号")
    expect(found).to_contain_text("o-back")
    expect(found).to_contain_text("最近咨询")
    expect(found.locator(".how")).to_have_text("客服消息")
    expect(found).to_have_attribute("aria-pressed", "true")  # the one shopper found is picked
    dialog.locator("textarea[name=outreach-text]").fill("您好，您的订单 A2001 已到达，请注意查收")
    bob.screenshot(path=str(SHOTS / "4-outreach-dialog-1280.png"))
    dialog.locator("[data-action=outreach-send]").click()

    # The new conversation opens in the chat, with the agent's words, and they reach WeChat.
    expect(bob.locator("dialog.outreach")).to_have_count(0)
    sent = bob.locator(".msg.from-agent", has_text="订单 A2001 已到达")
    expect(sent).to_have_count(1)
    expect(sent).to_have_attribute("data-delivery", "sent")
    expect(bob.locator(".chat-head .who")).to_contain_text("接待中")
    expect(bob.locator("textarea[name=text]")).to_be_enabled()
    expect(bob.locator("[data-tab=mine] .count")).to_have_text("1")
    texts = [m["text"]["content"] for m in sent_eventually(fake_wechat, "/cgi-bin/message/custom/send", "o-back")]
    assert texts[-1] == "您好，您的订单 A2001 已到达，请注意查收"
    bob.screenshot(path=str(SHOTS / "5-outreach-sent-1280.png"))

    # Outside the 48-hour window: the Official Account's template message, shown as such.
    served_then_ended(bob, shop, "o-late")
    window_closed(shop, "o-late")
    bob.click("[data-action=outreach]")
    dialog.locator("input[name=outreach-q]").fill("A2002")
    expect(dialog.locator(".candidate .how")).to_have_text("模板消息")
    expect(dialog.locator(".outreach-note")).to_contain_text("模板消息")
    dialog.locator("textarea[name=outreach-text]").fill("您的优惠券明天到期")
    dialog.locator("[data-action=outreach-send]").click()
    notice = bob.locator(".msg.from-agent:has(.template-card)")
    expect(notice).to_have_count(1)
    expect(notice.locator(".template-words")).to_have_text("您的优惠券明天到期")
    expect(notice.locator(".card-form")).to_have_text("以模板消息发送")
    expect(notice.locator(".template-fields")).to_contain_text("Acme 旗舰店的客服Bob给您留言")
    expect(notice).to_have_attribute("data-delivery", "sent")
    assert notice.get_attribute("data-message-id").isdigit()
    [call] = sent_eventually(fake_wechat, "/cgi-bin/message/template/send", "o-late")
    assert call["data"]["keyword1"] == {"value": "您的优惠券明天到期"}
    expect(bob.locator(".row", has_text="o-late").locator(".last")).to_have_text("[模板消息] 您的优惠券明天到期")
    bob.screenshot(path=str(SHOTS / "6-template-sent-1280.png"))

    # A buyer of two months ago cannot be written to, and the dialog says why.
    bob.click("[data-action=outreach]")
    dialog.locator("input[name=outreach-q]").fill("A2003")
    stale = dialog.locator(".candidate")
    expect(stale).to_be_disabled()
    expect(stale.locator(".refused")).to_contain_text("30 天内没有咨询或下单")
    expect(dialog.locator("[data-action=outreach-send]")).to_be_enabled()
    dialog.locator("textarea[name=outreach-text]").fill("你好")
    dialog.locator("[data-action=outreach-send]").click()
    expect(dialog.locator(".outreach-error")).to_have_text("请先查找并选择一位顾客")

    # Blocked (by another agent) between the search and the send: the 409 shows, nothing opens.
    shopper_writes(shop, "o-gone", "在吗")
    expect(bob.locator(".row", has_text="o-gone")).to_be_visible()
    gone = customer_id(shop, "o-gone")
    dialog.locator("input[name=outreach-q]").fill("A2004")
    expect(dialog.locator(f".candidate[data-customer-id='{gone}'] .how")).to_have_text("客服消息")
    assert client.put(f"/api/v1/customers/{gone}/block", headers=login(client),
                      json={"reason": "骚扰"}).status_code == 200
    dialog.locator("[data-action=outreach-send]").click()
    expect(dialog.locator(".outreach-error")).to_contain_text("无法发起会话：顾客已被拉黑")
    expect(dialog.locator(".candidate .refused")).to_contain_text("顾客已被拉黑")  # searched again
    bob.screenshot(path=str(SHOTS / "7-outreach-refused-1280.png"))
    dialog.get_by_role("button", name="取消").click()

    # The phone: the dialog, then the chat with the template message.
    phone_ctx, phone = signed_in(browser, shop, "bob", 390, 844)
    phone.click("[data-action=outreach]")
    phone.fill("dialog.outreach input[name=outreach-q]", "A2001")
    expect(phone.locator("dialog.outreach .candidate .how")).to_have_text("客服消息")
    phone.fill("dialog.outreach textarea[name=outreach-text]", "还有什么可以帮您？")
    phone.screenshot(path=str(SHOTS / "8-outreach-dialog-390.png"))
    phone.locator("dialog.outreach").get_by_role("button", name="取消").click()
    phone.locator(".row", has_text="o-late").click()
    expect(phone.locator(".template-card")).to_be_visible()
    phone.screenshot(path=str(SHOTS / "9-template-390.png"))
    phone_ctx.close()
    context.close()


def test_the_panel_shows_the_same_shopper_on_the_shops_other_channels(browser, shop):
    links = {"items": [{"user_id": "u1001", "openids": {"acme-oa": "o-linked"}}]}
    assert requests.put(f"{shop.base}/api/v1/shop-data/links", headers=shop.shop_headers, json=links,
                        timeout=5).json() == {"linked": 1}
    context, bob = signed_in(browser, shop, "bob")
    go_online(bob)
    shopper_writes(shop, "o-linked", "公众号上问一下")
    expect(bob.locator(".row", has_text="顾客 linked")).to_be_visible()  # a shopper without a nickname: the id's end

    # The same person writes from the shop's web page, signed in as u1001.
    widget = f"{shop.base}/widget/acme-web"
    token = requests.post(f"{widget}/visitor", json={"user": "u1001", "hash": user_hash(SECRET, "u1001"),
                                                     "name": "小王"}, timeout=5).json()["token"]
    assert requests.post(f"{widget}/messages", headers={"Authorization": f"Bearer {token}"},
                         json={"client_id": "web-first-1", "text": "网页上再问"}, timeout=5).status_code in (200, 201)
    bob.locator(".row", has_text="小王").click()
    linked = bob.locator("#panel section.linked")
    expect(linked.locator("h3")).to_have_text("同一顾客（2 个渠道）")
    expect(linked.locator("li")).to_have_count(1)
    expect(linked.locator("li .channel-word")).to_have_text("公众号")
    expect(linked.locator("li")).to_contain_text("o-linked")
    expect(linked.locator("li small")).to_contain_text("最近")
    history = bob.locator("#panel .history li")
    expect(history).to_have_count(2)  # both channels' conversations, each with its channel
    expect(history.filter(has_text="公众号 · ")).to_have_count(1)
    expect(history.filter(has_text="网页 · ")).to_have_count(1)
    bob.screenshot(path=str(SHOTS / "10-linked-1280.png"))

    # From the Official Account's side, the web identity.
    bob.locator(".row", has_text="顾客 linked").click()
    expect(linked.locator("li .channel-word")).to_have_text("网页")
    expect(linked.locator("li")).to_contain_text("u1001")

    phone_ctx, phone = signed_in(browser, shop, "bob", 390, 844)
    phone.locator(".row", has_text="小王").click()
    phone.click(".panel-toggle")
    expect(phone.locator("#panel section.linked li")).to_contain_text("o-linked")
    phone.screenshot(path=str(SHOTS / "11-linked-390.png"))
    phone_ctx.close()
    context.close()
