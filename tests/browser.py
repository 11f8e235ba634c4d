"""A real browser for the web pages: Debian's chromium, headless, driven by playwright.

Never a downloaded browser. Without /usr/bin/chromium (or playwright) the browser tests skip
and say why; in CI (KEFU_REQUIRE_SERVICES=1) they fail instead.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import _missing

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _missing("playwright is not installed (make install)")
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing (apt-get install chromium fonts-noto-cjk)")
    # A page's live update can take seconds on a loaded 2-core machine (CI, or a suite beside
    # other work): wait up to 15 s for what should appear, not playwright's 5.
    expect.set_options(timeout=15_000)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 900, "height": 800}, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()
