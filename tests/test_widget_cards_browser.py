"""Shop cards in the widget, in a real browser (Debian's chromium) on the shop's own page: a
product, a coupon and an order the agent sent, each drawn as a card — the shop's picture from its
https URL, the title, the price or the coupon's terms or the order's state, the whole card one
link opening the shop's page in a new tab — with the shop's text shown as text; and
kefu('viewed', id) telling the bridge with the visitor's token. Screenshot: widget-7-cards.png."""
from __future__ import annotations

import json

from playwright.sync_api import expect

from bridge.infra import db
from bridge.models import Conversation, Customer
from tests.shop_page import shop_site
from tests.test_card_delivery import store_card
from tests.test_card_forms import COUPON, PRODUCT
from tests.test_delivery_images import PNG
from tests.test_widget_browser import SHOTS, Agent, bridge, served, shopper_page  # noqa: F401  (bridge: a fixture)

ORDER = {"kind": "order", "form": "card", "id": "E2026120400012", "title": "订单 E2026120400012",
         "description": "已发货 · 顺丰 SF1234 · ¥398.00", "price": "398.00", "image": None,
         "url": "https://shop.example/orders/E2026120400012", "page_path": None, "text": "订单 E2026120400012"}


def waited(page, done, seconds: float = 15) -> None:
    for _ in range(int(seconds * 10)):
        if done():
            return
        page.wait_for_timeout(100)
    assert done()


def shopper_of(app, cid: int) -> str:
    with db.new_session(app) as s:
        return s.get(Customer, s.get(Conversation, cid).customer_id).external_id


def test_cards_are_drawn_as_cards_linking_to_the_shop(browser, bridge):  # noqa: F811
    alice = Agent(bridge)
    with shop_site(bridge.base) as site:
        context, page, cid = served(browser, bridge, alice, f"{site}/p/42", "这条裙子还有吗")
        pictures = []

        def the_shops_picture(route):
            pictures.append(route.request.url)
            route.fulfill(status=200, content_type="image/png", body=PNG)
        page.route("https://shop.example/img/**", the_shops_picture)
        shopper = shopper_of(bridge, cid)
        product = {**PRODUCT, "form": "card", "title": "<img src=x onerror=window.__card=1>碎花连衣裙"}
        for card in (product, {**COUPON, "form": "card", "url": "https://shop.example/coupon/c-20"}, ORDER):
            store_card(bridge, shopper, card)

        shown = page.locator("[data-card=product]")
        expect(shown).to_have_count(1)
        link = shown.locator("a")
        assert (link.get_attribute("href"), link.get_attribute("target")) == (PRODUCT["url"], "_blank")
        assert "noopener" in link.get_attribute("rel").split()
        expect(shown.locator(".title")).to_have_text("<img src=x onerror=window.__card=1>碎花连衣裙")
        expect(shown.locator(".price")).to_have_text("¥199.00")
        image = shown.locator("img")
        expect(image).to_have_attribute("src", PRODUCT["image"])
        assert image.evaluate("img => img.complete && img.naturalWidth") == 1  # the shop's picture, loaded
        assert pictures == [PRODUCT["image"]]

        coupon = page.locator("[data-card=coupon]")
        expect(coupon.locator(".desc")).to_have_text("2026-12-31 前有效")
        expect(coupon.locator("a")).to_contain_text("领取")
        assert coupon.locator("a").get_attribute("href") == "https://shop.example/coupon/c-20"
        order = page.locator("[data-card=order]")
        expect(order.locator(".desc")).to_have_text("已发货 · 顺丰 SF1234 · ¥398.00")
        expect(order.locator(".title")).to_have_text("订单 E2026120400012")
        assert order.locator("img").count() == 0  # no picture: none drawn
        assert page.evaluate("window.__card") is None
        page.screenshot(path=str(SHOTS / "widget-7-cards.png"))
        context.close()


def test_viewed_tells_the_bridge_with_the_visitors_token(browser, bridge):  # noqa: F811
    with shop_site(bridge.base) as site:
        context, page = shopper_page(browser, f"{site}/p/42")
        told = []

        def the_bridge(route):
            told.append((route.request.post_data, route.request.headers.get("authorization", "")))
            route.fulfill(status=204)
        page.route("**/widget/acme-web/viewed", the_bridge)
        page.evaluate("window.kefu('viewed', '41')")
        page.wait_for_timeout(500)
        assert told == []  # a shopper who never opened the chat is not made a visitor for looking
        page.locator("[data-kefu-launcher]").click()  # now a visitor: the latest view is told
        waited(page, lambda: len(told) == 1)
        page.evaluate("window.kefu('viewed', 42)")
        waited(page, lambda: len(told) == 2)
        assert [json.loads(body) for body, _ in told] == [{"product_id": "41"}, {"product_id": "42"}]
        assert all(auth.startswith("Bearer ") and len(auth) > 20 for _, auth in told)
        context.close()
