"""Logins (accounts/login.py): each token names a login of its own; POST /auth/logout ends that
one and no other; a password change ends them all; expired ones are purged. On SQLite and
PostgreSQL."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import func, select

from bridge.accounts import login as logins
from bridge.accounts.models import Login
from bridge.infra import db
from tests.factories import BASE_SHOP, load_shop, login, shop_doc


def count_logins(app) -> int:
    with db.new_session(app) as session:
        return session.scalar(select(func.count()).select_from(Login))


def me(client, headers) -> int:
    return client.get("/api/v1/me", headers=headers).status_code


def test_logout_ends_that_token_only(app, client, shop):
    phone, desktop = login(client, "bob"), login(client, "bob")
    assert count_logins(app) == 2

    resp = client.post("/api/v1/auth/logout", headers=phone)

    assert (resp.status_code, resp.data) == (204, b"")
    assert me(client, phone) == 401
    assert client.post("/api/v1/auth/logout", headers=phone).status_code == 401  # ended already
    assert me(client, desktop) == 200  # bob's other client stays signed in
    assert count_logins(app) == 1


def test_logout_without_a_valid_token_is_401_and_ends_nothing(app, client, shop):
    headers = login(client, "bob")
    for bad in ({}, {"Authorization": "Bearer not-a-token"}, {"Authorization": headers["Authorization"][:-2]}):
        resp = client.post("/api/v1/auth/logout", headers=bad)
        assert (resp.status_code, resp.get_json()["error"]["code"]) == (401, "unauthorized")
    assert me(client, headers) == 200 and count_logins(app) == 1


def test_signing_out_of_the_last_client_is_going_away(app, client, shop):
    admin, phone, desktop = login(client, "alice"), login(client, "bob"), login(client, "bob")
    client.patch("/api/v1/me", headers=phone, json={"status": "online"})

    def bob() -> dict:
        items = client.get("/api/v1/agents", headers=admin).get_json()["items"]
        return next(a for a in items if a["username"] == "bob")

    client.post("/api/v1/auth/logout", headers=phone)
    assert (bob()["status"], bob()["presence"]) == ("online", "present")  # the desktop is still there
    client.post("/api/v1/auth/logout", headers=desktop)
    assert (bob()["status"], bob()["presence"]) == ("online", "away")


def test_a_password_change_ends_every_login(app, client, shop):
    phone, desktop = login(client, "bob"), login(client, "bob")
    doc = shop_doc()
    doc["shops"][0]["agents"] = copy.deepcopy(BASE_SHOP["agents"])
    doc["shops"][0]["agents"][1]["password"] = "a-new-password"
    load_shop(app, doc)
    assert (me(client, phone), me(client, desktop)) == (401, 401)
    assert me(client, login(client, "bob", "a-new-password")) == 200


def test_a_token_that_names_no_login_is_refused(app, client, shop):
    """Tokens signed before logins were rows (agent and password version only) are refused:
    they could not be signed out."""
    old = URLSafeTimedSerializer("test-secret", salt=logins.SALT).dumps(
        {"a": shop.agents["bob"].id, "v": shop.agents["bob"].token_version})
    assert me(client, {"Authorization": f"Bearer {old}"}) == 401


def test_expired_logins_are_purged_and_live_ones_kept(app, client, shop):
    login(client, "bob")
    now = datetime.now(timezone.utc)
    with db.new_session(app) as session:
        assert logins.purge_expired(session, now, timedelta(hours=12)) == 0
        assert logins.purge_expired(session, now + timedelta(hours=12, seconds=1), timedelta(hours=12)) == 1
    assert count_logins(app) == 0
