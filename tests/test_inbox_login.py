"""The inbox's login, cookie session and CSRF (bridge/web/inbox, web/session.py, web/csrf.py):
the form, the cookie's flags, the API taking the cookie only with the page's token, the
shared limit on failed logins, logout, a password change, and one person switching between
the shops their password opens. On SQLite and PostgreSQL."""
from __future__ import annotations

import copy
import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from sqlalchemy import func, select

from bridge.accounts import throttle
from bridge.accounts.models import Login
from bridge.infra import db
from bridge.models import Agent, Shop
from bridge.web.session import COOKIE
from tests.conftest import make_app
from tests.factories import BASE_SHOP, load_shop, login, post_acme, shop_doc, text_xml

# The same person serves a second store: alice with the same password; bob with another one.
BRANCH = {
    "key": "acme-outlet", "name": "Acme 奥莱店",
    "channels": [{"kind": "wechat_oa", "key": "outlet-oa", "app_id": "wx00000000000000c3",
                  "app_secret": "secret-c3", "token": "outlettoken"}],
    "agents": [{"username": "alice", "password": "alice-password", "name": "Alice（奥莱）", "role": "agent"},
               {"username": "bob", "password": "bob-outlet-password", "name": "Bob"}],
}


def csrf_of(resp) -> str:
    return re.search(r'<meta name="csrf-token" content="([0-9a-f]{64})">', resp.get_data(as_text=True)).group(1)


def page_data(resp) -> dict:
    found = re.search(r'<script type="application/json" id="inbox-data">(.*?)</script>', resp.get_data(as_text=True), re.DOTALL)
    return json.loads(found.group(1))


def form_login(client, username="alice", password=None, shop="acme", address="198.51.100.7", **extra):
    token = csrf_of(client.get("/inbox/"))
    form = {"shop": shop, "username": username, "password": f"{username}-password" if password is None else password,
            "csrf_token": token}
    return client.post("/inbox/login", data={**form, **extra}, environ_base={"REMOTE_ADDR": address})


def signed_in(client, **kw) -> str:
    """Signed in through the form; the shell page's CSRF token."""
    resp = form_login(client, **kw)
    assert (resp.status_code, resp.headers["Location"]) == (303, "/inbox/"), resp.get_data(as_text=True)
    return csrf_of(client.get("/inbox/"))


def logins(app, shop_key: str | None = None) -> int:
    with db.new_session(app) as s:
        query = select(func.count()).select_from(Login)
        if shop_key:
            query = query.join(Shop, Shop.id == Login.shop_id).where(Shop.key == shop_key)
        return s.scalar(query)


def status_of(app, shop_key: str, username: str) -> str:
    with db.new_session(app) as s:
        return s.scalar(select(Agent.status).join(Shop, Shop.id == Agent.shop_id)
                        .where(Shop.key == shop_key, Agent.username == username))


def test_without_a_session_the_inbox_is_the_login_form(client, shop):
    resp = client.get("/inbox/")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    for name, autocomplete in (("shop", "organization"), ("username", "username"), ("password", "current-password")):
        assert re.search(rf'<input[^>]*name="{name}"[^>]*autocomplete="{autocomplete}"', html, re.DOTALL), name
    assert '<button type="submit">登录</button>' in html and 'name="csrf_token"' in html
    assert "<script>" not in html  # no inline script: the policy forbids it
    policy = resp.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert (resp.headers["X-Frame-Options"], resp.headers["Referrer-Policy"], resp.headers["Cache-Control"]) == (
        "DENY", "same-origin", "no-store")


def test_a_form_login_opens_the_inbox_with_an_httponly_lax_cookie_that_expires(app, client, shop):
    resp = form_login(client)
    assert (resp.status_code, resp.headers["Location"]) == (303, "/inbox/")
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith(COOKIE + "="))
    flags = [part.strip() for part in cookie.split(";")]
    assert "HttpOnly" in flags and "SameSite=Lax" in flags and "Secure" not in flags
    expires = parsedate_to_datetime(next(f for f in flags if f.startswith("Expires="))[8:])
    assert abs(expires - (datetime.now(UTC) + timedelta(seconds=app.config["TOKEN_MAX_AGE"]))) < timedelta(minutes=1)
    assert logins(app, "acme") == 1

    page = client.get("/inbox/")
    html = page.get_data(as_text=True)
    for region in ('id="conversation-list"', 'id="chat"', 'id="panel"', 'src="/inbox/static/inbox.js"'):
        assert region in html
    data = page_data(page)
    assert data["agent"] | {"id": 0} == {"id": 0, "username": "alice", "name": "Alice", "role": "admin", "status": "offline"}
    assert data["shop"] == {"key": "acme", "name": "Acme 旗舰店"} and data["csrf_token"] == csrf_of(page)
    assert page.headers["Cache-Control"] == "no-store" and client.get("/inbox/static/inbox.js").status_code == 200


def test_the_cookie_is_secure_on_https(client, shop):
    token = csrf_of(client.get("/inbox/", base_url="https://inbox.example"))
    resp = client.post("/inbox/login", base_url="https://inbox.example", data={
        "shop": "acme", "username": "bob", "password": "bob-password", "csrf_token": token})
    assert resp.status_code == 303
    assert "Secure" in [p.strip() for p in resp.headers["Set-Cookie"].split(";")]


def test_a_wrong_password_keeps_the_form_and_says_so(app, client, shop):
    resp = form_login(client, password="wrong-password")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 401 and "店铺、用户名或密码不正确" in html
    assert 'name="shop" value="acme"' in html and 'name="username" value="alice"' in html
    assert "wrong-password" not in html
    assert logins(app) == 0 and client.get("/api/v1/me").status_code == 401


@pytest.mark.parametrize("form", [{"csrf_token": ""}, {"csrf_token": "0" * 64}, {"password": ""}, {"shop": "x" * 65}])
def test_a_login_without_the_forms_token_or_fields_changes_nothing(app, client, shop, form):
    resp = form_login(client, **form)
    assert resp.status_code in (400, 403) and 'name="password"' in resp.get_data(as_text=True)
    assert logins(app) == 0 and client.get("/api/v1/me").status_code == 401


def test_the_api_takes_the_cookie_only_with_the_pages_token(app, client, shop):
    token = signed_in(client, username="bob")
    assert client.get("/api/v1/me").get_json()["username"] == "bob"

    for headers in ({}, {"X-CSRF-Token": "0" * 64}, {"X-CSRF-Token": token[:-1]}):
        refused = client.patch("/api/v1/me", json={"status": "online"}, headers=headers)
        assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "csrf_failed"
    assert status_of(app, "acme", "bob") == "offline"

    assert client.patch("/api/v1/me", json={"status": "online"}, headers={"X-CSRF-Token": token}).status_code == 200
    assert status_of(app, "acme", "bob") == "online"
    stream = client.get("/api/v1/events?max_seconds=0.5")  # EventSource sends the cookie, no header
    assert stream.status_code == 200 and "event: ready" in stream.get_data(as_text=True)


def test_a_bearer_token_needs_no_csrf_token(app, shop):
    api = app.test_client(use_cookies=False)
    bearer = login(api, "bob")
    assert api.patch("/api/v1/me", json={"status": "busy"}, headers=bearer).status_code == 200
    assert api.patch("/api/v1/me", json={"status": "busy"}).status_code == 401  # and nothing else does


def test_failed_logins_are_limited_in_redis_for_the_form_and_the_api_together(real_redis_url, database_url, fake_wechat):
    app = make_app(database_url, real_redis_url, fake_wechat.url)
    load_shop(app, shop_doc())
    client = app.test_client()
    try:
        for _ in range(throttle.ACCOUNT.failures - 1):
            assert form_login(client, password="wrong").status_code == 401
        assert client.post("/api/v1/auth/login", json={"shop": "acme", "username": "alice", "password": "x"},
                           environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code == 401
        assert list(app.extensions["redis"].scan_iter("kefu:login_failures:account:*"))  # counted in Redis

        locked = form_login(client)  # the right password, past the limit
        assert locked.status_code == 429 and "登录失败次数过多" in locked.get_data(as_text=True)
        assert 0 < int(locked.headers["Retry-After"]) <= throttle.ACCOUNT.window_seconds
        api = client.post("/api/v1/auth/login", json={"shop": "acme", "username": "alice", "password": "alice-password"})
        assert api.status_code == 429 and api.headers["Retry-After"]
        assert logins(app) == 0
        assert form_login(client, username="bob").status_code == 303  # bob is not alice
    finally:
        db.dispose(app)


def test_a_password_change_ends_the_cookie_session(app, client, shop):
    signed_in(client, username="bob")
    doc = shop_doc()
    doc["shops"][0]["agents"] = copy.deepcopy(BASE_SHOP["agents"])
    doc["shops"][0]["agents"][1]["password"] = "a-new-password"
    load_shop(app, doc)
    assert client.get("/api/v1/me").status_code == 401
    page = client.get("/inbox/")
    assert 'name="password"' in page.get_data(as_text=True) and "登录已失效" in page.get_data(as_text=True)


def test_logout_ends_the_login_and_an_old_copy_of_the_cookie(app, client, shop):
    token = signed_in(client, username="bob")
    old_cookie = client.get_cookie(COOKIE).value
    assert client.post("/inbox/logout", data={}).status_code == 403 and logins(app) == 1  # no token: stays in

    resp = client.post("/inbox/logout", data={"csrf_token": token})
    assert (resp.status_code, resp.headers["Location"]) == (303, "/inbox/?shop=acme") and logins(app) == 0
    assert 'name="shop" value="acme"' in client.get(resp.headers["Location"]).get_data(as_text=True)
    client.set_cookie(COOKIE, old_cookie)  # kept by someone: it names a login that is gone
    assert client.get("/api/v1/me").status_code == 401


def test_unknown_inbox_urls_are_an_html_404(client):
    resp = client.get("/inbox/no-such-page")
    assert resp.status_code == 404 and resp.mimetype == "text/html" and "页面不存在" in resp.get_data(as_text=True)
    assert resp.headers["X-Frame-Options"] == "DENY"


@pytest.fixture
def two_shops(app):
    return load_shop(app, shop_doc(copy.deepcopy(BRANCH)))


def test_one_person_switches_between_the_shops_their_password_opens(app, client, two_shops):
    post_acme(client, text_xml("o-acme-shopper", "你好"))  # nobody online in acme: it waits
    acme_token = signed_in(client)
    first = page_data(client.get("/inbox/"))
    assert [s["key"] for s in first["shops"]] == ["acme-outlet", "acme"]  # by name: Acme 奥莱店, Acme 旗舰店
    waiting = client.get("/api/v1/conversations").get_json()["items"]
    assert len(waiting) == 1

    switched = client.post("/inbox/shop", data={"shop": "acme-outlet", "csrf_token": acme_token})
    assert (switched.status_code, switched.headers["Location"]) == (303, "/inbox/")
    page = client.get("/inbox/")
    outlet_token = csrf_of(page)
    assert page_data(page)["shop"]["key"] == "acme-outlet" and page_data(page)["agent"]["name"] == "Alice（奥莱）"
    assert (logins(app, "acme"), logins(app, "acme-outlet")) == (0, 1)  # one login, in the shop in front of her
    assert client.get(f"/api/v1/conversations/{waiting[0]['id']}").status_code == 404  # acme's, not this shop's

    # Status is each shop's own; the acme page's token is void here (another tab left open).
    assert client.patch("/api/v1/me", json={"status": "online"}, headers={"X-CSRF-Token": acme_token}).status_code == 403
    assert client.patch("/api/v1/me", json={"status": "online"}, headers={"X-CSRF-Token": outlet_token}).status_code == 200
    assert (status_of(app, "acme-outlet", "alice"), status_of(app, "acme", "alice")) == ("online", "offline")

    back = client.post("/inbox/shop", data={"shop": "acme", "csrf_token": outlet_token})
    assert back.status_code == 303 and client.get("/api/v1/me").get_json()["status"] == "offline"
    assert client.get(f"/api/v1/conversations/{waiting[0]['id']}").status_code == 200


def test_a_switch_needs_the_token_and_a_shop_the_password_opened(app, client, two_shops):
    token = signed_in(client, username="bob")  # bob's outlet password is another one
    assert [s["key"] for s in page_data(client.get("/inbox/"))["shops"]] == ["acme"]
    assert 'class="shop-switch"' not in client.get("/inbox/").get_data(as_text=True)
    for form in ({"shop": "acme-outlet", "csrf_token": token}, {"shop": "other", "csrf_token": token},
                 {"shop": "acme-outlet"}, {"csrf_token": token}):
        resp = client.post("/inbox/shop", data=form)
        assert resp.status_code == 403 and resp.mimetype == "text/html", form
    assert client.get("/api/v1/me").get_json()["username"] == "bob" and logins(app, "acme") == 1


def test_a_shop_whose_password_changed_since_cannot_be_switched_to(app, client, two_shops):
    token = signed_in(client)
    branch = copy.deepcopy(BRANCH)
    branch["agents"][0]["password"] = "changed-at-the-outlet"
    load_shop(app, shop_doc(branch))
    resp = client.post("/inbox/shop", data={"shop": "acme-outlet", "csrf_token": token})
    assert resp.status_code == 403 and "密码已更改" in resp.get_data(as_text=True)
    page = client.get("/inbox/")
    assert page_data(page)["shop"]["key"] == "acme" and [s["key"] for s in page_data(page)["shops"]] == ["acme"]
    assert (logins(app, "acme"), logins(app, "acme-outlet")) == (1, 0)
