"""The metrics page in a real browser, signed in through the inbox's login form, under the
inbox's CSP (no inline script or style): the tables, the SVG chart, the agent picker, the quick
ranges, the CSV download, and the refusals (an agent gets the 403 page).
"""
from __future__ import annotations

import threading
from datetime import datetime
from pathlib import Path

import pytest
from playwright.sync_api import expect
from werkzeug.serving import make_server

from bridge.infra import db
from tests.conftest import make_app
from tests.factories import load_shop, shop_doc
from tests.live import free_port
from tests.test_metrics_daily import SHANGHAI, tell_story

RANGE = "?from=2024-03-09&to=2024-03-11"


@pytest.fixture(scope="module")
def site(pg_database):
    from tests.conftest import _truncate

    _truncate(pg_database)
    app = make_app(pg_database, None)
    if "inbox.metrics.metrics_page" not in app.view_functions:
        db.dispose(app)
        pytest.skip("/inbox/metrics is not routed: bridge/web/inbox/__init__.py registers metrics_page.bp")
    load_shop(app, shop_doc())
    tell_story(app)
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    app.base = f"http://127.0.0.1:{port}"
    yield app
    server.shutdown()
    db.dispose(app)


def opened(browser, site, username: str, path: str):
    """A browser signed in as USERNAME through the login form, then at PATH; what went wrong on
    the page is collected: script errors, CSP refusals, and answers of 400 or more by URL."""
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="zh-CN", accept_downloads=True)
    page = context.new_page()
    page.goto(site.base + "/inbox/")
    page.fill("input[name=shop]", "acme")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", f"{username}-password")
    page.press("input[name=password]", "Enter")
    expect(page.locator("body.inbox-app")).to_have_count(1)
    problems = []
    page.on("console", lambda m: m.type == "error" and not m.text.startswith("Failed to load resource")
            and problems.append(m.text))
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
            and problems.append(f"{r.status} {r.url}"))
    page.goto(site.base + path)
    return context, page, problems


def cells(page, who: str, day: str) -> dict[str, str]:
    row = page.locator(f"tr[data-agent='{who}'][data-date='{day}']")
    return {cell.get_attribute("data-field"): cell.inner_text() for cell in row.locator("td").all()}


def test_an_admin_reads_the_figures_as_tables_and_a_chart(browser, site, tmp_path):
    context, page, problems = opened(browser, site, "alice", "/inbox/metrics" + RANGE)
    shop_rows = page.locator("section[aria-label=全店] tbody tr")
    expect(shop_rows).to_have_count(3)
    assert page.locator("section[aria-label=全店] thead th").all_inner_texts() == [
        "日期", "会话数", "首次响应中位数", "首次响应P90", "3分钟回复率", "满意度", "排队等待中位数", "排队等待P90"]
    assert cells(page, "全店", "2024-03-10") == {
        "date": "2024-03-10", "conversations": "2", "first_response_median": "40秒", "first_response_p90": "1分00秒",
        "response_rate_3min": "66.7%", "satisfaction": "50.0%", "queue_wait_median": "31分00秒",
        "queue_wait_p90": "59分59秒"}
    assert cells(page, "alice", "2024-03-10")["queue_wait_median"] == "—"
    rate = page.locator("tr[data-agent='全店'][data-date='2024-03-10'] td[data-field=response_rate_3min]")
    assert rate.get_attribute("title") == "3 条回复"

    page.screenshot(path=str(tmp_path / "metrics.png"), full_page=True)
    bars = page.locator(".chart svg rect.bar[data-date]")
    assert [bars.nth(n).get_attribute("data-value") for n in range(3)] == ["1", "2", "1"]
    assert page.locator(".chart svg circle.dot").count() == 3 and page.locator(".chart svg path.rate").count() == 1

    expect(page.locator("section[aria-label=客服] tbody tr")).to_have_count(6)
    page.select_option("select[name=agent]", "bob")
    expect(page.locator("section[aria-label=客服] tbody tr")).to_have_count(3)
    assert cells(page, "bob", "2024-03-10")["satisfaction"] == "0.0%"

    link = page.locator("a.csv")
    assert link.get_attribute("href") == "/api/v1/stats/daily.csv" + RANGE
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "kefu-acme-2024-03-09-2024-03-11.csv"
    data = Path(download.value.path()).read_bytes()
    assert data.startswith("\ufeff日期,客服,会话数".encode()) and data.count(b"\r\n") == 10

    page.click("button[data-days='7']")
    today = datetime.now(SHANGHAI).date()
    expect(page.locator("input[name=to]")).to_have_value(today.isoformat())
    expect(page.locator("button[data-days='7']")).to_have_attribute("aria-pressed", "true")
    expect(shop_rows).to_have_count(7)
    assert page.url.endswith(f"?from={page.input_value('input[name=from]')}&to={today.isoformat()}")

    page.fill("input[name=from]", "2024-03-12")
    page.fill("input[name=to]", "2024-03-11")
    page.click("button[type=submit]")
    expect(page.locator(".status.error")).to_have_text("开始日期不能晚于结束日期")
    assert problems == []
    context.close()


def test_an_agent_gets_the_403_page(browser, site):
    context, page, problems = opened(browser, site, "bob", "/inbox/metrics" + RANGE)
    expect(page.locator(".notice")).to_have_text("数据报表仅管理员可查看。")
    assert page.locator("#metrics").count() == 0
    assert problems == [f"403 {site.base}/inbox/metrics{RANGE}"]
    context.close()


def test_without_a_range_the_page_shows_the_last_seven_days(browser, site):
    context, page, problems = opened(browser, site, "alice", "/inbox/metrics")
    expect(page.locator("section[aria-label=全店] tbody tr")).to_have_count(7)
    expect(page.locator("input[name=to]")).to_have_value(datetime.now(SHANGHAI).date().isoformat())
    expect(page.locator("button[data-days='7']")).to_have_attribute("aria-pressed", "true")
    assert problems == []
    context.close()
