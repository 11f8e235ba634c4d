"""CSRF tokens for the inbox's cookie session: every unsafe request made with the cookie must
also carry the page's token, which another site's page cannot read.

Pages put the token in `<meta name="csrf-token">` (scripts send it as the X-CSRF-Token
header) and in forms' hidden `csrf_token` field. It is an HMAC of the session's secret and
the current shop, so a page left open on one shop cannot change anything once another tab has
switched the session to another shop: its token no longer matches (403), and reloading shows
the shop it would act on. The login form's token comes from a secret made before sign-in;
signing in makes a new one.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import session

HEADER = "X-CSRF-Token"
FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token() -> str:
    """This session's token for its current shop (a secret is made if it has none yet)."""
    secret = session.get("csrf")
    if not isinstance(secret, str):
        secret = session["csrf"] = secrets.token_hex(16)
    return _for(secret, session.get("shop") or "")


def valid(sent: str | None) -> bool:
    secret = session.get("csrf")
    if not isinstance(secret, str) or not isinstance(sent, str) or not sent:
        return False
    return hmac.compare_digest(sent.encode(), _for(secret, session.get("shop") or "").encode())


def renew() -> None:
    """A new secret: tokens rendered before a sign-in are void after it."""
    session["csrf"] = secrets.token_hex(16)


def _for(secret: str, shop_key: str) -> str:
    return hmac.new(secret.encode(), shop_key.encode(), hashlib.sha256).hexdigest()
