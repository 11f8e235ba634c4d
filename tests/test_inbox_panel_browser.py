"""The shopper panel in a real browser: who the shopper is (channel, openid, first and last
seen), the exclusive agent an admin picks, a tag the admin adds to the shop's vocabulary and
puts on the shopper, notes by agent and time, another page showing the same shopper updated
live (customer.updated), and the 历史 search finding the ended conversation by a note's text
and by a tag. An agent puts a tag on a shopper but gets no form to add to the shop's tags. The
screenshot goes to the folder the test prints (9-panel.png).
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


def open_chat(page, openid: str) -> None:
    page.locator(".row", has_text=openid[-6:]).click()  # a row names a shopper without a nickname so
    expect(page.locator("#panel dd", has_text=openid)).to_be_visible()


def search_history(page, q: str) -> None:
    page.click("[data-tab=history]")
    page.fill("form.search input[name=q]", q)
    page.press("form.search input[name=q]", "Enter")


def test_notes_tags_and_the_history_search(browser, inbox):  # noqa: F811
    context, alice = signed_in(browser, inbox, "alice")
    go_online(alice)
    shopper_writes(inbox, "o-panel", "我想把地址改到上海")
    open_chat(alice, "o-panel")
    panel = alice.locator("#panel")
    expect(panel.locator("dd", has_text="公众号（acme-oa）")).to_be_visible()
    expect(panel.locator("dt:text-is('首次访问') + dd")).not_to_have_text("—")
    expect(panel.locator(".orders")).to_contain_text("该顾客暂无订单")  # the orders tab, with no shop data

    # A second page on the same shopper (alice's other window) follows every change live.
    other_context, watcher = signed_in(browser, inbox, "alice")
    open_chat(watcher, "o-panel")
    watcher.locator("#panel textarea[name=note]").fill("写到一半的备注")  # typed, not yet saved

    # The admin adds a tag to the shop's vocabulary and puts it on the shopper.
    panel.locator("input[name=tag]").fill("VIP")
    panel.locator("input[name=tag]").press("Enter")
    chip = panel.locator("button.chip[data-tag=VIP]")
    expect(chip).to_have_attribute("aria-pressed", "false")
    chip.click()
    expect(chip).to_have_attribute("aria-pressed", "true")
    expect(watcher.locator("#panel button.chip[data-tag=VIP]")).to_have_attribute("aria-pressed", "true")
    # The watcher's panel was redrawn by those changes; the note being typed there stays.
    expect(watcher.locator("#panel textarea[name=note]")).to_have_value("写到一半的备注")

    # Two notes, newest first, each with its agent and time; one deleted.
    for text in ("先发顺丰", "顾客要求改地址到上海市徐汇区"):
        panel.locator("textarea[name=note]").fill(text)
        panel.get_by_role("button", name="保存备注").click()
        expect(panel.locator(".notes li", has_text=text)).to_be_visible()
    notes = panel.locator(".notes li")
    expect(notes).to_have_count(2)
    expect(notes.first).to_contain_text("顾客要求改地址到上海市徐汇区")
    expect(notes.first.locator("small")).to_contain_text("Alice · ")
    expect(watcher.locator("#panel .notes li")).to_have_count(2)
    panel.locator(".notes li", has_text="先发顺丰").get_by_role("button", name="删除").click()
    expect(notes).to_have_count(1)
    expect(watcher.locator("#panel .notes li")).to_have_count(1)
    # The admin makes bob the shopper's exclusive agent (专属客服), from the shop's agents.
    panel.locator("select[name=exclusive]").select_option("bob")
    panel.get_by_role("button", name="设为专属").click()
    expect(panel.locator("dt:text-is('专属客服') + dd")).to_have_text("Bob")
    expect(watcher.locator("#panel dt:text-is('专属客服') + dd")).to_have_text("Bob")
    alice.screenshot(path=str(SHOTS / "9-panel.png"))
    other_context.close()

    # Ended, the conversation is found in 历史 by the note's text and by the tag, not by chance.
    alice.get_by_role("button", name="结束").click()
    expect(alice.locator("[data-tab=mine] .count")).to_have_text("0")
    expect(panel.locator(".history li")).to_contain_text("已结束")  # the open panel follows the end
    for q, found in (("徐汇区", 1), ("vip", 1), ("顺丰", 0), ("上海", 1), ("o-pan", 1), ("没有这个", 0)):
        search_history(alice, q)
        expect(alice.locator("#conversation-list .row")).to_have_count(found)
    context.close()

    # An agent puts the shop's tags on a shopper (kept across a reload) but gets no form to add to them.
    context, bob = signed_in(browser, inbox, "bob")
    go_online(bob)
    shopper_writes(inbox, "o-bob", "你好")
    open_chat(bob, "o-bob")
    chip = bob.locator("#panel button.chip[data-tag=VIP]")
    expect(chip).to_have_attribute("aria-pressed", "false")
    expect(bob.locator("#panel input[name=tag]")).to_have_count(0)
    chip.click()
    expect(chip).to_have_attribute("aria-pressed", "true")
    bob.reload()  # kept, not just drawn
    open_chat(bob, "o-bob")
    expect(bob.locator("#panel button.chip[data-tag=VIP]")).to_have_attribute("aria-pressed", "true")
    context.close()
