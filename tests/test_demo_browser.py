"""The demo shopper page in a real browser: a person writes, clicks a menu, sends a picture,
and sees what the shop's Official Account sends back — passive replies at once, notices and
the agent's replies once the worker has delivered them through the stand-in."""
from __future__ import annotations

import struct
import zlib

from playwright.sync_api import expect

from tests.test_demo import alice_replies, demo  # noqa: F401  (demo: the fixture)


def small_png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x07\xc1\x60" * 8 for _ in range(8))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_a_shopper_chats_with_the_shop_on_the_demo_page(demo, page, tmp_path):  # noqa: F811
    page.goto(demo.config["DEMO_URL"] + "/demo/shopper/demo-oa?openid=browser-shopper")
    expect(page.locator(".demo-note")).to_contain_text("演示沙箱")
    expect(page.locator(".bar .title")).to_have_text("Demo Shop 演示店铺")

    page.fill("#text", "发货")
    page.keyboard.press("Enter")
    answer = page.locator(".row.shop").first
    expect(answer).to_contain_text("付款后 48 小时内发货")
    expect(answer.locator(".via")).to_have_text("被动回复")
    expect(page.locator("#text")).to_have_value("")

    page.fill("#text", "你好，在吗")
    page.keyboard.press("Enter")
    expect(page.locator(".row.shopper")).to_have_count(2)
    alice_replies(demo, {"type": "text", "text": "亲，在的"})
    expect(page.locator(".row.shop").last).to_contain_text("亲，在的")
    expect(page.locator(".row.shop").last.locator(".via")).to_have_text("客服消息")
    expect(page.locator(".row.shop", has_text="您好，我是Alice")).to_have_count(1)

    page.click("#more")
    page.click("button[data-kind=click][data-key=AFTERSALES]")
    expect(page.locator(".row.event").last).to_have_text("你点击菜单：AFTERSALES")

    picture = tmp_path / "shoes.png"
    picture.write_bytes(small_png())
    page.set_input_files("#image", str(picture))
    shown = page.locator(".row.shopper img").last
    expect(shown).to_be_visible()
    assert page.evaluate("img => img.naturalWidth", shown.element_handle()) == 8

    page.click("button[data-kind=scan]")  # no scene typed
    expect(page.locator("#error")).to_contain_text("key")
    page.screenshot(path=str(tmp_path / "shopper.png"))
