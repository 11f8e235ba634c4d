"""POST /auth/login, and the Bearer token every other call carries (accounts/login.py)."""
from __future__ import annotations

from functools import wraps

from flask import Blueprint, current_app, g, jsonify, request

from bridge.accounts.login import agent_for_token, authenticate, issue_token
from bridge.infra import db
from bridge.models import Agent
from bridge.visibility import Viewer
from bridge.web.api.errors import APIError
from bridge.web.api.shapes import agent_json, json_body

bp = Blueprint("auth", __name__)


@bp.post("/auth/login")
def login():
    body = json_body()
    shop_key, username, password = (body.get(k) for k in ("shop", "username", "password"))
    if not all(isinstance(v, str) and v for v in (shop_key, username, password)):
        raise APIError(400, "bad_request", "shop, username and password are required strings")
    agent = authenticate(db.session(), shop_key, username, password)
    if agent is None:
        raise APIError(401, "invalid_credentials", "unknown shop, username or password")
    return jsonify({"token": issue_token(current_app.config["SECRET_KEY"], agent),
                    "agent": agent_json(agent)})


def current_agent() -> Agent:
    return g.agent


def current_viewer() -> Viewer:
    return Viewer.of(g.agent)


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise APIError(401, "unauthorized", "a Bearer token is required")
        agent = agent_for_token(db.session(), current_app.config["SECRET_KEY"], header[7:],
                                current_app.config["TOKEN_MAX_AGE"])
        if agent is None:
            raise APIError(401, "unauthorized", "the token is invalid, expired or no longer valid")
        g.agent = agent
        return view(*args, **kwargs)

    return wrapper


@bp.get("/me")
@login_required
def me():
    return jsonify(agent_json(current_agent()))
