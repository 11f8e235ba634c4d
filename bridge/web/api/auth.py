"""POST /auth/login and /auth/logout, and who is asking on every other call: a Bearer token
(accounts/login.py), or the inbox's cookie session naming the same kind of token — with the
page's CSRF token on unsafe methods (web/csrf.py). Every call with a token is its client heard
from (accounts/presence.py)."""
from __future__ import annotations

from datetime import UTC, datetime
from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request

from bridge.accounts import presence, throttle
from bridge.accounts.login import authenticate, login_for_token, sign_in, sign_out
from bridge.accounts.models import Login
from bridge.infra import db
from bridge.models import Agent
from bridge.visibility import Viewer
from bridge.web import csrf
from bridge.web import session as inbox_session
from bridge.web.api.errors import APIError
from bridge.web.api.shapes import agent_json, json_body

bp = Blueprint("auth", __name__)


@bp.post("/auth/login")
def login():
    body = json_body()
    shop_key, username, password = (body.get(k) for k in ("shop", "username", "password"))
    if not all(isinstance(v, str) and v for v in (shop_key, username, password)):
        raise APIError(400, "bad_request", "shop, username and password are required strings")
    redis, address = current_app.extensions["redis"], request.remote_addr or ""
    wait = throttle.retry_after(redis, shop_key, username, address)
    if wait:
        raise APIError(429, "too_many_attempts", f"too many failed logins; try again in {wait} s",
                       headers={"Retry-After": str(wait)})
    agent = authenticate(db.session(), shop_key, username, password)
    if agent is None:
        throttle.failed(redis, shop_key, username, address)
        raise APIError(401, "invalid_credentials", "unknown shop, username or password")
    throttle.succeeded(redis, shop_key, username, address)
    now = datetime.now(UTC)
    new_login, token = sign_in(db.session(), current_app.config["SECRET_KEY"], agent, now)
    presence.arrived(db.session(), new_login, now, presence.timeout())
    return jsonify({"token": token, "agent": agent_json(agent, presence.PRESENT, now)})


def current_agent() -> Agent:
    return g.agent


def current_login() -> Login:
    return g.login


def current_viewer() -> Viewer:
    return Viewer.of(g.agent)


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization")
        if header is not None and not header.startswith("Bearer "):
            raise APIError(401, "unauthorized", "a Bearer token is required")
        token = header[7:] if header is not None else inbox_session.current_token()
        if token is None:
            raise APIError(401, "unauthorized", "a Bearer token (or the inbox's signed-in session) is required")
        login = login_for_token(db.session(), current_app.config["SECRET_KEY"], token,
                                current_app.config["TOKEN_MAX_AGE"])
        if login is None:
            raise APIError(401, "unauthorized", "the token is invalid, expired, signed out or no longer valid")
        if header is None and request.method not in csrf.SAFE_METHODS and not csrf.valid(request.headers.get(csrf.HEADER)):
            raise APIError(403, "csrf_failed", f"the session cookie needs the page's CSRF token ({csrf.HEADER}) "
                                               "on this method; reload the page")
        g.login, g.agent = login, login.agent
        presence.heard_from(db.session(), login, datetime.now(UTC), presence.timeout())
        return view(*args, **kwargs)

    return wrapper


@bp.post("/auth/logout")
@login_required
def logout():
    """This token's login ends (the agent's other logins stay); 204."""
    sign_out(db.session(), current_login())
    presence.left(db.session(), current_agent(), datetime.now(UTC), presence.timeout())
    return "", 204
