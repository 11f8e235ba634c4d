"""The inbox's login in a real browser: a wrong password keeps the form, Enter signs in, the
page's script runs under the page's CSP, a fetch with the page's CSRF token may change things
and one without may not, the shop switcher, logout. Screenshots go to the folder it prints."""
from __future__ import annotations

import copy
import tempfile
import threading
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from bridge.infra import db
from tests.conftest import make_app
from tests.factories import load_shop, shop_doc
from tests.live import free_port
from tests.test_inbox_login import BRANCH

SHOTS = Path(tempfile.gettempdir()) / "kefu-inbox-login-screens"
PATCH_ME = """async (token) => {
  const headers = {"Content-Type": "application/json"};
  if (token) headers["X-CSRF-Token"] = document.querySelector('meta[name="csrf-token"]').content;
  const resp = await fetch("/api/v1/me", {method: "PATCH", headers, body: JSON.stringify({status: "busy"})});
  return [resp.status, (await resp.json()).error?.code || (await Promise.resolve("ok"))];
}"""


@pytest.fixture
def inbox(pg_url, redis_url, fake_wechat):
    app = make_app(pg_url, redis_url, fake_wechat.url)
    load_shop(app, shop_doc(copy.deepcopy(BRANCH)))
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SHOTS.mkdir(exist_ok=True)
    print(f"\nscreenshots: {SHOTS}")
    app.base = f"http://127.0.0.1:{port}"
    yield app
    server.shutdown()
    db.dispose(app)


def test_an_agent_signs_in_switches_shop_and_signs_out(browser, inbox):  # noqa: F811
    context = browser.new_context(viewport={"width": 1100, "height": 700}, locale="zh-CN")
    page = context.new_page()
    problems = []
    # Script errors and CSP refusals; not the 401/403 answers this test asks for on purpose.
    page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
            and problems.append(m.text))
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(inbox.base + "/inbox/")
    page.fill("input[name=shop]", "acme")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "not-her-password")
    page.press("input[name=password]", "Enter")
    expect(page.locator(".notice")).to_have_text("店铺、用户名或密码不正确。")
    expect(page.locator("input[name=username]")).to_have_value("alice")
    expect(page.locator("input[name=password]")).to_be_focused()
    page.screenshot(path=str(SHOTS / "1-wrong-password.png"))

    page.fill("input[name=password]", "alice-password")
    page.press("input[name=password]", "Enter")
    expect(page.locator("body.inbox-app")).to_have_attribute("data-shop", "acme")
    expect(page.locator(".agent-name")).to_have_text("Alice")
    for region in ("#conversation-list", "#chat", "#panel"):
        expect(page.locator(region)).to_have_count(1)
    cookie = next(c for c in context.cookies() if c["name"] == "kefu_inbox")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["expires"] > 0
    assert page.evaluate("document.cookie") == ""  # scripts cannot read it

    # The page's own script runs (no inline script: CSP), and follows the agent's status.
    expect(page.locator("body[data-ready=true]")).to_have_count(1)  # the inbox's script is running
    page.select_option("select[name=status]", "online")
    expect(page.locator(".agent-status")).to_have_text("在线")
    assert page.evaluate(PATCH_ME, False) == [403, "csrf_failed"]
    assert page.evaluate(PATCH_ME, True) == [200, "ok"]
    page.screenshot(path=str(SHOTS / "2-signed-in.png"))

    page.select_option("select[name=shop]", "acme-outlet")
    page.click("form.shop-switch button")
    expect(page.locator("body.inbox-app")).to_have_attribute("data-shop", "acme-outlet")
    expect(page.locator(".agent-name")).to_have_text("Alice（奥莱）")
    expect(page.locator(".agent-status")).to_have_text("离线")  # busy was acme's, not this shop's
    expect(page.locator("select[name=shop]")).to_have_value("acme-outlet")
    page.screenshot(path=str(SHOTS / "3-switched.png"))

    page.click("form.logout button")
    expect(page.locator("input[name=shop]")).to_have_value("acme-outlet")
    assert page.evaluate("fetch('/api/v1/me').then(r => r.status)") == 401
    page.set_viewport_size({"width": 390, "height": 700})
    page.screenshot(path=str(SHOTS / "4-signed-out-phone.png"))
    assert problems == [], problems
    context.close()
