"""GET /inbox/: the login form without a session, the inbox's page with one.

The page is a shell: a header (the shop, or a switcher among the shops this sign-in opened;
the agent's name and status; logout) and three empty regions the inbox's scripts fill —
#conversation-list, #chat, #panel. What the scripts need comes in a JSON block
(#inbox-data: agent, shop, shops, csrf_token, events_from) and the CSRF token in a meta tag
as well. `events_from` is the shop's event log position as the page was made: the page's
stream starts there, so an event between the page and its first load of the lists (which the
lists may not show yet) is replayed, never lost.
"""
from __future__ import annotations

from datetime import UTC, datetime

import redis
from flask import Blueprint, Response, current_app, render_template, request
from sqlalchemy import select

from bridge.accounts import presence
from bridge.accounts.login import login_for_token
from bridge.accounts.models import Login
from bridge.events import log as event_log
from bridge.infra import db
from bridge.models import Shop
from bridge.web import csrf
from bridge.web import session as inbox_session

bp = Blueprint("pages", __name__)
STATUS_WORDS = {"online": "在线", "busy": "挂起", "offline": "离线"}
ROLE_WORDS = {"admin": "管理员", "agent": "客服"}


@bp.get("/")
def home() -> Response:
    stale = inbox_session.current_token() is not None or inbox_session.current_shop() is not None
    login = session_login()
    if login is None:
        notice = "登录已失效，请重新登录。" if stale else None
        return login_page(200, notice, shop=request.args.get("shop", "")[:64])
    presence.heard_from(db.session(), login, datetime.now(UTC), presence.timeout())
    return shell_page(login)


def session_login() -> Login | None:
    """The login the cookie session names, while it lasts; a session that names none is ended."""
    token = inbox_session.current_token()
    login = token and login_for_token(db.session(), current_app.config["SECRET_KEY"], token,
                                      current_app.config["TOKEN_MAX_AGE"])
    if not login and (token or inbox_session.current_shop()):
        inbox_session.end()
    return login or None


def login_page(status: int, notice: str | None, shop: str = "", username: str = "",
               headers: dict[str, str] | None = None) -> Response:
    """The login form; SHOP and USERNAME as typed last time, the password never."""
    page = render_template("inbox/login.html", notice=notice, shop=shop, username=username,
                           csrf_token=csrf.token())
    return Response(page, status=status, headers=headers or {}, mimetype="text/html")


def _events_position(shop_id: int) -> str | None:
    """The newest event id of the shop's log; None if Redis does not answer (the stream then
    starts wherever it connects)."""
    try:
        return event_log.resume(current_app.extensions["redis"], shop_id, None).position
    except redis.RedisError:
        return None


def shell_page(login: Login) -> Response:
    agent, token = login.agent, csrf.token()
    here = db.session().get(Shop, agent.shop_id)
    shops = db.session().execute(select(Shop.key, Shop.name).where(
        Shop.key.in_(set(inbox_session.shops()) | {here.key})).order_by(Shop.name)).all()
    data = {
        "agent": {"id": agent.id, "username": agent.username, "name": agent.name, "role": agent.role,
                  "status": agent.status},
        "shop": {"key": here.key, "name": here.name},
        "shops": [{"key": s.key, "name": s.name} for s in shops],
        "csrf_token": token,
        "events_from": _events_position(here.id),
    }
    page = render_template("inbox/shell.html", data=data, csrf_token=token,
                           status_words=STATUS_WORDS, role_words=ROLE_WORDS)
    return Response(page, mimetype="text/html")
