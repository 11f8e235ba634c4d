"""Failed logins are limited per account and per address through Redis (accounts/throttle.py):
429 with Retry-After, before any password is checked, counted together by every web process."""
from __future__ import annotations

import time

import requests

from bridge import keys
from bridge.accounts import throttle
from tests.conftest import make_app
from tests.factories import load_shop, shop_doc
from tests.live import app_env, gunicorn

LOGIN = "/api/v1/auth/login"


def attempt(client, password: str, username: str = "alice", address: str = "198.51.100.7"):
    return client.post(LOGIN, json={"shop": "acme", "username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_an_account_is_locked_after_five_failures_even_to_the_right_password(client, shop):
    for _ in range(throttle.ACCOUNT.failures):
        assert attempt(client, "wrong").status_code == 401
    locked = attempt(client, "alice-password")
    assert locked.status_code == 429
    assert 0 < int(locked.headers["Retry-After"]) <= throttle.ACCOUNT.window_seconds
    assert locked.get_json()["error"]["code"] == "too_many_attempts"
    assert attempt(client, "bob-password", username="bob").status_code == 200  # bob is not alice
    assert attempt(client, "alice-password", address="203.0.113.9").status_code == 429  # nor elsewhere


def test_the_lock_opens_when_its_window_closes(app, client, shop):
    for _ in range(throttle.ACCOUNT.failures):
        attempt(client, "wrong")
    assert attempt(client, "alice-password").status_code == 429
    redis = app.extensions["redis"]
    for key in redis.scan_iter("kefu:login_failures:*"):
        redis.pexpire(key, 1)  # the window's end, without waiting fifteen minutes
    deadline = time.monotonic() + 2
    while attempt(client, "alice-password").status_code != 200:
        assert time.monotonic() < deadline


def test_a_success_clears_the_accounts_count(client, shop):
    for _ in range(throttle.ACCOUNT.failures - 1):
        attempt(client, "wrong")
    assert attempt(client, "alice-password").status_code == 200
    for _ in range(throttle.ACCOUNT.failures - 1):
        assert attempt(client, "wrong").status_code == 401


def test_one_address_trying_many_accounts_is_limited(client, shop, monkeypatch):
    monkeypatch.setattr(throttle, "ADDRESS", throttle.Limit(failures=8, window_seconds=900))
    for i in range(8):
        assert attempt(client, "wrong", username=f"guess{i}").status_code == 401
    assert attempt(client, "alice-password").status_code == 429
    assert attempt(client, "alice-password", address="203.0.113.9").status_code == 200


def test_the_limit_holds_across_web_processes(pg_url, real_redis_url, fake_wechat):
    app = make_app(pg_url, real_redis_url, fake_wechat.url)
    load_shop(app, shop_doc())
    with gunicorn(app_env(pg_url, real_redis_url, fake_wechat.url), workers=3) as base:
        answers = [requests.post(base + LOGIN, json={"shop": "acme", "username": "alice", "password": "wrong"},
                                 timeout=10).status_code for _ in range(throttle.ACCOUNT.failures + 3)]
    assert answers == [401] * throttle.ACCOUNT.failures + [429] * 3
    assert any(True for _ in app.extensions["redis"].scan_iter(keys.login_failures("account", "*")))
