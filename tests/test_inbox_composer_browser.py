"""The composer while a conversation loads, in a real browser: what the agent types right after
clicking a row, while the conversation still loads, is neither wiped when it arrives nor kept
as another conversation's draft. The newcomer walk lost a reply that way when the messages
took a moment to come."""
from __future__ import annotations

from playwright.sync_api import expect

from tests.test_inbox_browser_walk import (  # noqa: F401  (inbox: the walk's live server and jobs)
    go_online,
    inbox,
    shopper_writes,
    signed_in,
)

# The conversation's messages take 1.5 s, as on a slow network (the page's own fetch, delayed).
SLOW_MESSAGES = """() => {
  const fetch = window.fetch;
  window.fetch = (url, init) => String(url).includes("/messages?")
    ? new Promise((resolve) => setTimeout(() => resolve(fetch(url, init)), 1500)) : fetch(url, init);
}"""


def test_typing_right_after_opening_a_conversation_is_not_lost(browser, inbox):  # noqa: F811
    context, bob = signed_in(browser, inbox, "bob")
    go_online(bob)
    shopper_writes(inbox, "o-first", "第一位")
    shopper_writes(inbox, "o-second", "第二位")
    expect(bob.locator("[data-tab=mine] .count")).to_have_text("2")

    bob.evaluate(SLOW_MESSAGES)
    bob.locator(".row", has_text="first").click()
    text = bob.locator("textarea[name=text]")
    text.type("马上回复您")  # at once, while the messages are still on their way
    expect(bob.locator("#chat .msg", has_text="第一位")).to_be_visible()  # loaded now
    expect(text).to_have_value("马上回复您")
    text.press("Enter")
    expect(bob.locator(".msg.from-agent", has_text="马上回复您")).to_have_attribute("data-delivery", "sent")

    bob.locator(".row", has_text="second").click()  # no draft of the first shows in the second
    expect(bob.locator("#chat .msg", has_text="第二位")).to_be_visible()
    expect(text).to_have_value("")
    context.close()
