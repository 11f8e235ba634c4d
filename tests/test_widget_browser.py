"""The shop-page widget in a real browser (Debian's chromium), on a shop page served from an
origin of its own, against the bridge over real HTTP with PostgreSQL, Redis and its jobs: open,
write, routed by the page's scene, the agent's reply arrives live, a reload keeps the history,
a reply sent while the shopper was offline shows once when they are back, a send whose answer
was lost is stored once, the rating card's stars, identity by HMAC (and a forged hash refused),
a strict CSP, a shopper's and an agent's markup shown as text, and the phone layout.
Screenshots: the folder printed (widget-*.png)."""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect
from sqlalchemy import func, select

from adapters.widget.identity import user_hash
from bridge.infra import db
from bridge.models import Agent as Agent_
from bridge.models import Conversation, Customer, Message
from tests.conftest import make_app
from tests.live_inbox import serving
from tests.shop_page import shop_site
from tests.widget_kit import SECRET, widget_shop

SHOTS = Path(tempfile.gettempdir()) / "kefu-widget-screens"


@pytest.fixture
def bridge(pg_url, real_redis_url, fake_wechat):
    app = make_app(pg_url, real_redis_url, fake_wechat.url)
    widget_shop(app, rating_on_end=True, welcome_message="您好，我是{agent}，请问有什么可以帮您？")
    SHOTS.mkdir(exist_ok=True)
    print(f"\nscreenshots: {SHOTS}")
    with serving(app):
        yield app
    db.dispose(app)


class Agent:
    """An agent working through the API (the inbox's own browser tests cover its pages)."""

    def __init__(self, app, username: str = "alice"):
        self.base = app.base + "/api/v1"
        token = requests.post(f"{self.base}/auth/login", timeout=5, json={
            "shop": "acme", "username": username, "password": f"{username}-password"}).json()["token"]
        self.headers = {"Authorization": f"Bearer {token}"}
        requests.patch(f"{self.base}/me", headers=self.headers, json={"status": "online"}, timeout=5)

    def conversation(self, app) -> int:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with db.new_session(app) as s:
                found = s.scalar(select(Conversation.id).where(Conversation.state == "active"))
            if found:
                return found
            time.sleep(0.1)
        raise AssertionError("the shopper never reached an agent")

    def say(self, conversation_id: int, text: str) -> None:
        resp = requests.post(f"{self.base}/conversations/{conversation_id}/messages", headers=self.headers,
                             json={"type": "text", "text": text}, timeout=5)
        assert resp.status_code == 201, resp.text

    def post(self, path: str) -> None:
        assert requests.post(f"{self.base}{path}", headers=self.headers, timeout=5).status_code in (200, 201)


def shopper_page(browser, url: str, phone: bool = False):
    size = {"width": 390, "height": 844} if phone else {"width": 1280, "height": 800}
    context = browser.new_context(viewport=size, locale="zh-CN", is_mobile=phone, has_touch=phone)
    page = context.new_page()
    page.goto(url)
    expect(page.locator("[data-kefu-launcher]")).to_be_visible()
    return context, page


def chat_open(page):
    page.locator("[data-kefu-launcher]").click()
    expect(page.locator("textarea[name=text]")).to_be_visible()


def write(page, text: str) -> None:
    page.locator("textarea[name=text]").fill(text)
    page.locator("textarea[name=text]").press("Enter")


def served(browser, bridge, alice: Agent, url: str, text: str):
    """A shopper on URL opens the chat and writes TEXT, which reaches ALICE: (context, page, the
    conversation's id)."""
    context, page = shopper_page(browser, url)
    chat_open(page)
    write(page, text)
    return context, page, alice.conversation(bridge)


def stored(app, text: str) -> int:
    with db.new_session(app) as s:
        return s.scalar(select(func.count()).select_from(Message).where(Message.text == text))


def wait_stored(app, text: str, times: int = 1) -> None:
    deadline = time.monotonic() + 15
    while stored(app, text) < times and time.monotonic() < deadline:
        time.sleep(0.1)
    assert stored(app, text) == times


def bridge_agent_id(session, username: str) -> int:
    return session.scalar(select(Agent_.id).where(Agent_.username == username))


def shown(page, text: str):
    return page.locator("[data-message-id]", has_text=text)


def test_a_shopper_chats_from_the_shops_own_page(browser, bridge):
    alice = Agent(bridge)
    with shop_site(bridge.base) as site:
        context, page = shopper_page(browser, f"{site}/p/100?scene=vip&product=P100")
        assert page.evaluate("Object.keys(localStorage)") == []  # nothing kept before the chat is opened
        chat_open(page)
        write(page, "这条裙子有S码吗")
        wait_stored(bridge, "这条裙子有S码吗")
        cid = alice.conversation(bridge)
        with db.new_session(bridge) as s:
            conversation = s.get(Conversation, cid)
            customer = s.get(Customer, conversation.customer_id)
            assert conversation.agent_id == bridge_agent_id(s, "alice")  # vip: presales, alice's group
            assert (customer.entry_scene, customer.entry_product) == ("vip", "P100")
            assert customer.entry_page.startswith(site)
        expect(page.get_by_text("您好，我是Alice")).to_be_visible()
        alice.say(cid, "有的，S码有货")
        expect(shown(page, "有的，S码有货")).to_have_count(1)
        page.screenshot(path=str(SHOTS / "widget-1-chat.png"))
        assert any(key.startswith("kefu:") for key in page.evaluate("Object.keys(localStorage)"))

        page.reload()
        chat_open(page)
        expect(shown(page, "这条裙子有S码吗")).to_have_count(1)
        expect(shown(page, "有的，S码有货")).to_have_count(1)
        context.close()


def test_a_reply_sent_while_the_shopper_is_offline_shows_once(browser, bridge):
    alice = Agent(bridge)
    with shop_site(bridge.base) as site:
        context, page, cid = served(browser, bridge, alice, f"{site}/p/100", "在吗")
        expect(page.get_by_text("您好，我是Alice")).to_be_visible()
        context.set_offline(True)
        write(page, "我这边网不好")  # kept, and sent once the network is back
        alice.say(cid, "离线时的回复")
        time.sleep(2)
        assert stored(bridge, "我这边网不好") == 0
        context.set_offline(False)
        page.evaluate("window.dispatchEvent(new Event('online'))")
        expect(shown(page, "离线时的回复")).to_have_count(1)
        wait_stored(bridge, "我这边网不好")
        time.sleep(1.5)  # a late copy would show by now
        expect(shown(page, "离线时的回复")).to_have_count(1)
        expect(shown(page, "我这边网不好")).to_have_count(1)
        page.screenshot(path=str(SHOTS / "widget-2-back-online.png"))
        context.close()


def test_a_send_whose_answer_was_lost_is_stored_once(browser, bridge):
    with shop_site(bridge.base) as site:
        context, page = shopper_page(browser, f"{site}/p/100")
        chat_open(page)
        lost = []

        def lose_the_first_answer(route):
            if route.request.method == "POST" and not lost:
                lost.append(route.fetch())  # it reached the bridge, which stored it
                route.abort("connectionreset")
            else:
                route.continue_()
        page.route("**/widget/acme-web/messages", lose_the_first_answer)
        write(page, "请帮我查一下订单")
        wait_stored(bridge, "请帮我查一下订单")
        expect(shown(page, "请帮我查一下订单")).to_have_count(1)
        time.sleep(3)  # the retry has gone through by now
        assert lost and lost[0].status == 201
        assert stored(bridge, "请帮我查一下订单") == 1
        expect(shown(page, "请帮我查一下订单")).to_have_count(1)
        context.close()


def test_the_rating_card_is_answered_with_stars(browser, bridge):
    alice = Agent(bridge)
    with shop_site(bridge.base) as site:
        context, page, cid = served(browser, bridge, alice, f"{site}/p/100", "谢谢")
        alice.post(f"/conversations/{cid}/end")
        expect(page.locator("[data-rating='5']")).to_be_visible()
        page.locator("[data-rating='4']").click()
        page.locator("textarea[name=comment]").fill("回复很快")
        page.get_by_role("button", name="提交评价").click()
        expect(page.get_by_text("感谢您对客服Alice的评价")).to_be_visible()
        with db.new_session(bridge) as s:
            rated = s.get(Conversation, cid)
            assert (rated.rating_score, rated.rating_comment) == (4, "回复很快")
        page.screenshot(path=str(SHOTS / "widget-3-rated.png"))
        context.close()


def test_a_logged_in_shopper_by_hmac_and_a_forged_hash_refused(browser, bridge):
    with shop_site(bridge.base) as site:
        good = f"{site}/account?user=u-1001&hash={user_hash(SECRET, 'u-1001')}&name=王小姐"
        context, page = shopper_page(browser, good)
        chat_open(page)
        write(page, "我的会员积分")
        wait_stored(bridge, "我的会员积分")
        with db.new_session(bridge) as s:
            assert s.scalar(select(Customer.nickname).where(Customer.external_id == "u_u-1001")) == "王小姐"
        context.close()

        forged = f"{site}/account?user=u-1002&hash={user_hash(SECRET, 'u-1001')}"
        context, page = shopper_page(browser, forged)
        page.locator("[data-kefu-launcher]").click()
        expect(page.get_by_text("身份校验失败")).to_be_visible()
        page.screenshot(path=str(SHOTS / "widget-4-forged.png"))
        with db.new_session(bridge) as s:
            assert s.scalar(select(func.count()).select_from(Customer).where(Customer.external_id == "u_u-1002")) == 0
        assert not any("token" in k for k in page.evaluate("Object.keys(localStorage)"))
        context.close()


def test_under_a_strict_csp_markup_is_shown_as_text(browser, bridge):
    alice = Agent(bridge)
    with shop_site(bridge.base, csp=True) as site:
        context, page = shopper_page(browser, f"{site}/p/100")
        refused = []
        page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
        chat_open(page)
        write(page, "<img src=x onerror=window.__shopper=1>")
        cid = alice.conversation(bridge)
        alice.say(cid, "<script>window.__agent=1</script><b>粗体</b>")
        expect(shown(page, "<script>window.__agent=1</script><b>粗体</b>")).to_have_count(1)
        expect(shown(page, "<img src=x onerror=window.__shopper=1>")).to_have_count(1)
        assert page.evaluate("[window.__agent, window.__shopper]") == [None, None]
        assert refused == []
        context.close()


def test_the_phone_layout_fills_the_screen(browser, bridge):
    alice = Agent(bridge)
    with shop_site(bridge.base) as site:
        context, page = shopper_page(browser, f"{site}/p/100", phone=True)
        page.screenshot(path=str(SHOTS / "widget-5-phone-closed.png"))
        chat_open(page)
        write(page, "手机上问一下")
        cid = alice.conversation(bridge)
        alice.say(cid, "您好，请讲")
        expect(shown(page, "您好，请讲")).to_have_count(1)
        composer = page.locator("textarea[name=text]")
        assert composer.evaluate("e => getComputedStyle(e).fontSize") == "16px"
        box = page.locator("[data-kefu-panel]").bounding_box()
        assert box and box["x"] <= 1 and box["y"] <= 1 and box["width"] >= 389 and box["height"] >= 800
        page.screenshot(path=str(SHOTS / "widget-6-phone-open.png"))
        context.close()


def test_two_tabs_of_one_shopper_stay_in_step_and_the_agents_typing_shows(browser, bridge):
    alice = Agent(bridge)
    with shop_site(bridge.base) as site:
        context, first, cid = served(browser, bridge, alice, f"{site}/p/100", "第一个标签页")
        second = context.new_page()  # the same browser: the same first-party visitor
        second.goto(f"{site}/p/200")
        chat_open(second)
        expect(shown(second, "第一个标签页")).to_have_count(1)
        write(second, "第二个标签页")
        expect(shown(first, "第二个标签页")).to_have_count(1)
        alice.post(f"/conversations/{cid}/typing")
        expect(first.get_by_text("正在输入")).to_be_visible()
        alice.say(cid, "两边都能看到")
        for page in (first, second):
            expect(shown(page, "两边都能看到")).to_have_count(1)
        assert stored(bridge, "第二个标签页") == 1
        context.close()
