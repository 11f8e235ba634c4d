"""Login and bearer tokens: signed, expiring, and void once the agent's password changes."""
from __future__ import annotations

from functools import wraps

from flask import current_app, g, jsonify, request
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from bridge import db
from bridge.api import bp
from bridge.api.shapes import agent_json, json_body
from bridge.errors import APIError
from bridge.models import Agent, Shop
from bridge.passwords import verify_password


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="kefu-agent-api")


def issue_token(agent: Agent) -> str:
    return _serializer().dumps({"a": agent.id, "v": agent.token_version})


@bp.post("/auth/login")
def login():
    body = json_body()
    shop_key, username, password = (body.get(k) for k in ("shop", "username", "password"))
    if not all(isinstance(v, str) and v for v in (shop_key, username, password)):
        raise APIError(400, "bad_request", "shop, username and password are required strings")
    agent = db.session().scalar(
        select(Agent).join(Shop, Shop.id == Agent.shop_id)
        .where(Shop.key == shop_key, Agent.username == username, Agent.active.is_(True)))
    if not verify_password(agent.password_hash if agent else None, password):
        raise APIError(401, "invalid_credentials", "unknown shop, username or password")
    return jsonify({"token": issue_token(agent), "agent": agent_json(agent)})


def current_agent() -> Agent:
    return g.agent


def login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer "):
            raise APIError(401, "unauthorized", "a Bearer token is required")
        try:
            claims = _serializer().loads(header[7:], max_age=current_app.config["TOKEN_MAX_AGE"])
        except BadSignature:
            raise APIError(401, "unauthorized", "the token is invalid or expired") from None
        agent = db.session().get(Agent, claims.get("a"))
        if agent is None or not agent.active or agent.token_version != claims.get("v"):
            raise APIError(401, "unauthorized", "the token is no longer valid")
        g.agent = agent
        return view(*args, **kwargs)

    return wrapper


@bp.get("/me")
@login_required
def me():
    return jsonify(agent_json(current_agent()))
