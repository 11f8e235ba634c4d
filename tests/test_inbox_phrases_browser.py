"""An agent's own quick phrases in a real browser: written in the 管理短语 dialog, found in the
composer with "/" and a few letters, chosen with the arrows and Enter and sent; edited and deleted;
another agent never sees them; the phone layout keeps the dialog on the screen. Screenshots:
10-phrases.png (the dialog), 11-picker.png (the "/" picker) and 12-phrases-phone.png, in SHOTS.
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
    write(dialog, "尺码表", "S 码 80–100 斤，M 码 100–120 斤")
    dialog.locator("input[name=phrase-title]").fill("空的")
    dialog.locator("form.phrase-form button[type=submit]").click()  # no text: refused in words
    expect(dialog.locator(".composer-error")).to_have_text("标题和内容都要填写")
    assert dialog.locator("input[name=phrase-title]").get_attribute("maxlength") == "30"
    bob.screenshot(path=str(SHOTS / "10-phrases.png"))
    dialog.get_by_role("button", name="关闭").click()
    expect(dialog).to_have_count(0)

    # "/" alone: the agent's own first, marked 我的, then the shop's, marked 店铺 — without a reload.
    text = bob.locator("textarea[name=text]")
    text.fill("")
    text.type("/")
    picker = bob.locator("ul.phrases")
    expect(picker.locator("li b")).to_have_text(["尺码建议", "尺码表", "问候"])
    expect(picker.locator("li small")).to_have_text(["我的", "我的", "店铺"])
    bob.screenshot(path=str(SHOTS / "11-picker.png"))
    # "/" and part of the title: both 尺码 phrases; ArrowDown to the second, Enter puts it in the
    # composer, a second Enter sends it.
    text.type("尺码")
    expect(picker.locator("li b")).to_have_text(["尺码建议", "尺码表"])
    text.press("ArrowDown")
    expect(picker.locator("li[aria-selected=true] b")).to_have_text("尺码表")
    text.press("Enter")
    expect(picker).to_be_hidden()
    expect(text).to_have_value("S 码 80–100 斤，M 码 100–120 斤")
    text.press("Enter")
    expect(bob.locator(".msg.from-agent", has_text="S 码 80–100 斤")).to_have_attribute("data-delivery", "sent")
    sent = [m.get("text", {}).get("content") for m in fake_wechat.sent("o-phrase")]
    assert "S 码 80–100 斤，M 码 100–120 斤" in sent

    # Edited and deleted (after the confirm, which signed_in accepts) in the dialog; the picker follows.
    dialog = manage(bob)
    item = dialog.locator(".own-phrases li", has_text="尺码建议")
    item.get_by_role("button", name="编辑").click()
    expect(dialog.locator("input[name=phrase-title]")).to_have_value("尺码建议")
    dialog.locator("textarea[name=phrase-text]").fill("亲，这款正常尺码")
    dialog.get_by_role("button", name="保存").click()
    expect(dialog.locator(".own-phrases li", has_text="这款正常尺码")).to_be_visible()
    confirms = []
    bob.once("dialog", lambda d: confirms.append(d.message))
    dialog.locator(".own-phrases li", has_text="尺码表").get_by_role("button", name="删除").click()
    expect(dialog.locator(".own-phrases li")).to_have_count(1)
    assert confirms == ["删除快捷短语「尺码表」？"]
    dialog.get_by_role("button", name="关闭").click()
    text.fill("")
    text.type("/尺码")
    expect(picker.locator("li b")).to_have_text(["尺码建议"])
    expect(picker.locator("li span")).to_have_text(["亲，这款正常尺码"])
    text.fill("")
    text.type("/尺码表")
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
    alice.screenshot(path=str(SHOTS / "12-phrases-phone.png"))
    dialog.get_by_role("button", name="关闭").click()
    text = alice.locator("textarea[name=text]")
    text.type("/尺码")  # bob's phrases are bob's: nothing to pick
    expect(alice.locator("ul.phrases")).to_be_hidden()
    text.fill("")
    text.type("/")
    expect(alice.locator("ul.phrases li b")).to_have_text(["问候"])
    context.close()
