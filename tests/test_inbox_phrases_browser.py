"""An agent's own quick phrases in a real browser: written in the 管理短语 dialog, found in the
composer with "/" and a few letters, chosen with the keyboard and sent; edited and deleted;
another agent never sees them; the phone layout keeps the dialog on the screen. Screenshots:
10-phrases.png (the dialog) and 11-picker.png (the "/" picker), in the folder the test prints.
"""
from __future__ import annotations

from playwright.sync_api import expect

from tests.test_inbox_browser_walk import (  # noqa: F401  (inbox: the walk's live server and jobs)
    SHOTS,
    go_online,
    inbox,
    shopper_writes,
    signed_in,
)


def manage(page):
    page.get_by_role("button", name="管理我的快捷短语").click()
    dialog = page.locator("dialog.phrase-manager")
    expect(dialog).to_be_visible()
    return dialog


def write(dialog, title: str, text: str) -> None:
    dialog.locator("input[name=phrase-title]").fill(title)
    dialog.locator("textarea[name=phrase-text]").fill(text)
    dialog.locator("form.phrase-form button[type=submit]").click()
    expect(dialog.locator(".own-phrases li", has_text=title)).to_be_visible()


def test_an_agent_writes_finds_sends_edits_and_deletes_own_phrases(browser, inbox, fake_wechat):  # noqa: F811
    context, bob = signed_in(browser, inbox, "bob")
    go_online(bob)
    shopper_writes(inbox, "o-phrase", "M码偏大吗")
    bob.locator(".row", has_text="phrase").click()

    dialog = manage(bob)
    expect(dialog.locator(".own-phrases")).to_contain_text("还没有自己的短语")
    expect(dialog.locator(".shop-phrases")).to_contain_text("问候")  # the shop file's, read-only
    write(dialog, "尺码建议", "亲，这款偏大半码，建议拍小一码哦")
    write(dialog, "退换", "支持七天无理由退换")
    dialog.locator("input[name=phrase-title]").fill("空的")
    dialog.locator("form.phrase-form button[type=submit]").click()  # no text: refused in words
    expect(dialog.locator(".composer-error")).to_have_text("标题和内容都要填写")
    bob.screenshot(path=str(SHOTS / "10-phrases.png"))
    dialog.get_by_role("button", name="关闭").click()
    expect(dialog).to_have_count(0)

    # "/" and a few letters of the title: the picker has it at once, marked 我的, beside the shop's.
    text = bob.locator("textarea[name=text]")
    text.fill("")
    text.type("/尺码")
    picker = bob.locator("ul.phrases")
    expect(picker.locator("li").first).to_contain_text("尺码建议")
    expect(picker.locator("li").first.locator("small")).to_have_text("我的")
    text.fill("")
    text.type("/")
    expect(picker.locator("li", has_text="问候").locator("small")).to_have_text("店铺")
    text.type("退")
    bob.screenshot(path=str(SHOTS / "11-picker.png"))
    text.press("Enter")  # chooses the phrase; a second Enter sends it
    expect(text).to_have_value("支持七天无理由退换")
    text.press("Enter")
    expect(bob.locator(".msg.from-agent", has_text="支持七天无理由退换")).to_have_attribute("data-delivery", "sent")
    assert any(m.get("text", {}).get("content") == "支持七天无理由退换" for m in fake_wechat.sent("o-phrase"))

    # Edited and deleted in the dialog; the picker follows.
    dialog = manage(bob)
    item = dialog.locator(".own-phrases li", has_text="尺码建议")
    item.get_by_role("button", name="编辑").click()
    dialog.locator("textarea[name=phrase-text]").fill("亲，这款正常尺码")
    dialog.get_by_role("button", name="保存").click()
    expect(dialog.locator(".own-phrases li", has_text="这款正常尺码")).to_be_visible()
    dialog.locator(".own-phrases li", has_text="退换").get_by_role("button", name="删除").click()  # confirm: accepted
    expect(dialog.locator(".own-phrases li")).to_have_count(1)
    dialog.get_by_role("button", name="关闭").click()
    text.fill("")
    text.type("/尺码")
    expect(picker.locator("li").first).to_contain_text("这款正常尺码")
    text.fill("")
    text.type("/退换")
    expect(picker).to_be_hidden()
    context.close()

    # alice has the shop's phrases and none of bob's; on a phone the dialog fits the screen.
    context, alice = signed_in(browser, inbox, "alice", width=390, height=844)
    go_online(alice)  # on the phone the composer shows with a conversation open
    shopper_writes(inbox, "o-phone", "在吗")
    alice.locator(".row", has_text="-phone").click()
    dialog = manage(alice)
    expect(dialog.locator(".own-phrases")).to_contain_text("还没有自己的短语")
    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert alice.evaluate("getComputedStyle(document.querySelector('input[name=phrase-title]')).fontSize") == "16px"
    context.close()
