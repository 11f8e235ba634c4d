"""The inbox's cookie session: which login the browser is signed in as, and the other shops
the same person may switch to without giving the password again.

Flask's signed cookie, opened only under /inbox and /api (the webhooks, the widget and the
demo never read one), HttpOnly, SameSite=Lax, Secure on https (or SESSION_COOKIE_SECURE),
expiring TOKEN_MAX_AGE after the password was given — a shop switch does not prolong it. It
is written only when it changes, so a slow answer can never put back a cookie that a switch
or a logout has replaced.

What it holds: `login`, the current shop's login token (bridge/accounts/login.py: the same
token a Bearer client holds, so signing out, expiry and a password change end it alike);
`shop`, that shop's key; `shops`, each shop the password opened → [agent id, token_version]
(a claim: refused once that agent's password changes); `since`, when the password was given;
`csrf`, the secret of the page's CSRF tokens (bridge/web/csrf.py).
"""
from __future__ import annotations

import time
from datetime import UTC, datetime

from flask import Flask, current_app, request, session
from flask.sessions import SecureCookieSessionInterface, SessionMixin

COOKIE = "kefu_inbox"
SPACES = ("/inbox", "/api")


class InboxSessions(SecureCookieSessionInterface):
    salt = "kefu-inbox-session"

    def open_session(self, app: Flask, request):
        if not any(request.path == space or request.path.startswith(space + "/") for space in SPACES):
            return self.make_null_session(app)
        return super().open_session(app, request)

    def get_cookie_name(self, app: Flask) -> str:
        return COOKIE

    def get_cookie_httponly(self, app: Flask) -> bool:
        return True

    def get_cookie_samesite(self, app: Flask) -> str:
        return "Lax"

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure

    def get_expiration_time(self, app: Flask, session: SessionMixin) -> datetime | None:
        """The sign-in's end; before a sign-in (the login form's CSRF secret), the browser's session."""
        since = session.get("since")
        if not isinstance(since, int):
            return None
        return datetime.fromtimestamp(since + app.config["TOKEN_MAX_AGE"], UTC)

    def should_set_cookie(self, app: Flask, session: SessionMixin) -> bool:
        return session.modified


def begin(token: str, shop_key: str, shops: dict[str, tuple[int, int]]) -> None:
    """Signed in at SHOP_KEY with TOKEN; SHOPS: every shop the password opened (itself too)."""
    session.clear()
    session.update(login=token, shop=shop_key, since=int(time.time()),
                   shops={key: list(claim) for key, claim in shops.items()})


def current_token() -> str | None:
    """The current shop's login token, while the sign-in lasts; None: not signed in."""
    since, token = session.get("since"), session.get("login")
    if not isinstance(since, int) or not isinstance(token, str):
        return None
    if time.time() >= since + current_app.config["TOKEN_MAX_AGE"]:
        return None
    return token


def current_shop() -> str | None:
    return session.get("shop")


def shops() -> dict[str, list[int]]:
    """Each shop this sign-in may switch to → [agent id, token_version]."""
    found = session.get("shops")
    return found if isinstance(found, dict) else {}


def switched(shop_key: str, token: str) -> None:
    session.update(login=token, shop=shop_key)


def forget(shop_key: str) -> None:
    """SHOP_KEY no longer opens with this sign-in (its password changed, its account ended)."""
    session["shops"] = {key: claim for key, claim in shops().items() if key != shop_key}


def end() -> None:
    """Signed out: the cookie is deleted (or replaced by the login form's next CSRF secret)."""
    session.clear()
