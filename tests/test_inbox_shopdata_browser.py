"""Shop data in the inbox's panel, in a real browser: the shop sends its products, coupons and
orders through the shop-data API; a shopper who bought on the Official Account writes; the
agent sees their orders (state, items, logistics), searches 连衣 and sends the dress, sends a
coupon and an order — each card shows in the chat as the shopper got it (以图文消息发送, 以文字
发送) and reaches 已发送, and the fake WeChat received a news article and a text. A double click
sends one card; a coupon the shop deleted meanwhile says why and stores nothing; once the
conversation ends the panel sends nothing. Screenshots at 1280 and 390 px go to the folder the
test prints.
"""
from __future__ import annotations

import struct
import tempfile
import time
import zlib
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import func, select

from bridge.infra import db
from bridge.models import Message
from tests.shop_data_kit import api_key, load, order, when
from tests.test_inbox_browser_walk import (  # noqa: F401  (inbox: the walk's live server and jobs)
    go_online,
    inbox,
    shopper_writes,
    signed_in,
)

SHOTS = Path(tempfile.gettempdir()) / "kefu-shopdata-screens"
COLOURS = {"dress": (236, 144, 160), "shirt": (120, 160, 220)}


@pytest.fixture
def shop(inbox):  # noqa: F811
    """The inbox with the kit's products and coupons, one more coupon, and o-buyer's two orders."""
    headers = api_key(inbox)
    client = inbox.test_client()
    load(client, headers, [order("A1002", days=1), order("A1001", state="completed", days=12)])
    more = {"id": "c-50", "title": "满500减50", "value": "¥50", "condition": "满500可用", "valid_until": when(-7)}
    assert client.put("/api/v1/shop-data/coupons", headers=headers, json={"items": [more]}).status_code == 200
    inbox.shop_headers = headers
    SHOTS.mkdir(exist_ok=True)
    print(f"\nscreenshots: {SHOTS}")
    return inbox


def picture(rgb: tuple[int, int, int], size: int = 96) -> bytes:
    """A PNG of one colour: the shop's pictures, served in place of https://shop.example."""
    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def shop_pictures(page) -> None:
    def fulfil(route):
        name = route.request.url.rsplit("/", 1)[-1].split(".")[0]
        route.fulfill(status=200, content_type="image/png", body=picture(COLOURS.get(name, (200, 200, 200))))
    page.route("https://shop.example/**", fulfil)


def agent(browser, app, width: int = 1280, height: int = 800):
    return signed_in(browser, app, "bob", width, height, before=shop_pictures)


def cards_stored(app, kind: str) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(func.count()).select_from(Message).where(Message.type == kind))


def sent_eventually(fake, openid: str, msgtype: str, seconds: float = 10) -> list[dict]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = [m for m in fake.sent(openid) if m.get("msgtype") == msgtype]
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {msgtype} reached {openid}: {fake.sent(openid)}")


def test_the_agent_reads_the_shoppers_orders_and_sends_shop_cards(browser, shop, fake_wechat):
    context, bob = agent(browser, shop)
    go_online(bob)
    shopper_writes(shop, "o-buyer", "我买的裙子到哪了？")
    views = {"items": [{"product_id": "p-shirt", "buyer": {"openids": {"acme-oa": "o-buyer"}}}]}
    assert requests.post(f"{shop.base}/api/v1/shop-data/views", headers=shop.shop_headers, json=views,
                         timeout=5).json() == {"recorded": 1, "skipped": 0}
    bob.locator(".row", has_text="-buyer").click()
    panel = bob.locator("#panel")

    # 订单: both orders, newest first, with state, items, amount and logistics.
    expect(panel.locator("[data-panel-tab=orders] .count")).to_have_text("2")
    panel.locator("[data-panel-tab=orders]").click()
    orders = panel.locator("li.order")
    expect(orders).to_have_count(2)
    latest = orders.first
    expect(latest).to_have_attribute("data-order", "A1002")
    expect(latest.locator(".state")).to_have_text("已发货")
    expect(latest.locator(".tracking")).to_have_text("顺丰 SF100")
    expect(latest.locator(".order-items li")).to_have_count(2)
    expect(latest.locator(".order-items li").first).to_contain_text("碎花连衣裙 夏季新款")
    expect(latest.locator(".order-items li").first).to_contain_text("×2")
    expect(latest.locator(".order-sum")).to_contain_text("¥527.00")
    expect(orders.nth(1).locator(".state")).to_have_text("已完成")
    bob.screenshot(path=str(SHOTS / "1-orders-1280.png"))

    # 商品: with the box empty, what the shopper looked at and what sells; then a search.
    panel.locator("[data-panel-tab=products]").click()
    expect(panel.locator(".products h3", has_text="最近浏览")).to_be_visible()
    expect(panel.locator("li.product[data-product=p-shirt]").first).to_contain_text("看过")
    expect(panel.locator("li.product").filter(has_text="30 天售出 4")).to_have_attribute("data-product", "p-dress")
    bob.screenshot(path=str(SHOTS / "2-browsing-1280.png"))
    panel.locator("input[name=product-q]").fill("连衣")
    expect(panel.locator("li.product")).to_have_count(1)
    dress = panel.locator("li.product[data-product=p-dress]")
    expect(dress).to_contain_text("¥199.00")
    panel.locator("input[name=product-q]").fill("裙")
    expect(panel.locator("li.product[data-product=p-skirt] .off-sale")).to_have_text("已下架")
    panel.locator("input[name=product-q]").fill("连衣")
    expect(panel.locator("li.product")).to_have_count(1)

    # A double click sends the dress once; its card says how the shopper got it, and it is sent.
    dress.locator("[data-send-product=p-dress]").dblclick()
    card = bob.locator(".msg.from-agent:has(.shop-card[data-card=product])")
    expect(card).to_have_count(1)
    expect(card.locator(".card-form")).to_have_text("商品 · 以图文消息发送")
    expect(card.locator(".shop-card b")).to_have_text("碎花连衣裙 夏季新款")
    expect(card).to_have_attribute("data-delivery", "sent")
    expect(card).to_contain_text("已发送")
    time.sleep(0.5)
    expect(card).to_have_count(1)
    assert cards_stored(shop, "product") == 1
    [news] = sent_eventually(fake_wechat, "o-buyer", "news")
    assert news["news"]["articles"][0]["title"] == "碎花连衣裙 夏季新款"
    assert news["news"]["articles"][0]["url"] == "https://shop.example/p/dress"
    expect(bob.locator(".row", has_text="-buyer").locator(".last")).to_have_text("[商品] 碎花连衣裙 夏季新款")
    bob.screenshot(path=str(SHOTS / "3-product-sent-1280.png"))

    # 优惠券: the valid ones only; one sent as a news article too.
    panel.locator("[data-panel-tab=coupons]").click()
    expect(panel.locator("li.coupon")).to_have_count(2)
    expect(panel.locator("li.coupon[data-coupon=c-old]")).to_have_count(0)
    coupon = panel.locator("li.coupon[data-coupon=c-20]")
    expect(coupon).to_contain_text("满199可用")
    expect(coupon).to_contain_text("有效期至")
    coupon.locator("[data-send-coupon=c-20]").click()
    sent_coupon = bob.locator(".msg.from-agent:has(.shop-card[data-card=coupon])")
    expect(sent_coupon.locator(".card-form")).to_have_text("优惠券 · 以图文消息发送")
    expect(sent_coupon).to_have_attribute("data-delivery", "sent")
    bob.screenshot(path=str(SHOTS / "4-coupons-1280.png"))

    # A coupon the shop withdrew after the panel listed it: the refusal shows, nothing is stored.
    assert requests.delete(f"{shop.base}/api/v1/shop-data/coupons/c-50", headers=shop.shop_headers,
                           timeout=5).status_code == 204
    panel.locator("[data-send-coupon=c-50]").click()
    expect(bob.locator(".toast.error")).to_contain_text("发送失败")
    expect(bob.locator(".toast.error")).to_contain_text("c-50")
    expect(bob.locator(".msg.optimistic")).to_have_count(0)
    expect(panel.locator("li.coupon")).to_have_count(1)  # the panel read the shop's coupons again
    assert cards_stored(shop, "coupon") == 1

    # An order has no page to open: the Official Account sends it as a text, and the chat says so.
    panel.locator("[data-panel-tab=orders]").click()
    panel.locator("[data-send-order=A1002]").click()
    sent_order = bob.locator(".msg.from-agent:has(.shop-card[data-card=order])")
    expect(sent_order.locator(".card-form")).to_have_text("订单 · 以文字发送")
    expect(sent_order.locator(".card-text")).to_contain_text("订单 A1002：碎花连衣裙 夏季新款 等3件")
    expect(sent_order.locator(".card-text")).to_contain_text("已发货 · 顺丰 SF100 · ¥527.00")
    expect(sent_order).to_have_attribute("data-delivery", "sent")
    texts = [m["text"]["content"] for m in sent_eventually(fake_wechat, "o-buyer", "text")]
    assert any(t.startswith("订单 A1002：") for t in texts), texts
    bob.screenshot(path=str(SHOTS / "5-order-sent-1280.png"))

    # The phone: the chat with its cards, then the panel's tabs, one view at a time.
    phone_ctx, phone = agent(browser, shop, 390, 844)
    phone.locator(".row", has_text="-buyer").click()
    expect(phone.locator(".shop-card")).to_have_count(3)
    phone.screenshot(path=str(SHOTS / "6-chat-390.png"))
    phone.click(".panel-toggle")
    phone.locator("[data-panel-tab=orders]").click()
    expect(phone.locator("#panel li.order")).to_have_count(2)
    phone.screenshot(path=str(SHOTS / "7-orders-390.png"))
    phone.locator("[data-panel-tab=products]").click()
    phone.locator("input[name=product-q]").fill("衬衫")
    expect(phone.locator("#panel li.product")).to_have_count(1)
    phone.screenshot(path=str(SHOTS / "8-products-390.png"))
    phone.locator("[data-panel-tab=coupons]").click()
    expect(phone.locator("#panel li.coupon")).to_have_count(1)  # c-50 is gone
    phone.screenshot(path=str(SHOTS / "9-coupons-390.png"))
    phone_ctx.close()

    # Ended, the conversation takes no more cards: the buttons are off and the panel says why.
    bob.get_by_role("button", name="结束").click()
    expect(bob.locator(".chat-head .who")).to_contain_text("已结束")
    expect(panel.locator("[data-send-order=A1002]")).to_be_disabled()
    expect(panel.locator(".orders .send-why")).to_have_text("会话已结束")
    panel.locator("[data-panel-tab=products]").click()
    expect(panel.locator("[data-send-product=p-dress]")).to_be_disabled()
    context.close()
