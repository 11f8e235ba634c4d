"""The inbox's forms: POST /inbox/login, /inbox/logout and /inbox/shop, each with the page's
CSRF token (web/csrf.py); each answers with a redirect to /inbox/, or the page again saying
what went wrong (and changing nothing).

A login is the API's (accounts/login.py, accounts/throttle.py: the same accounts, the same
limit on failures per account and per address). The password also opens the same person's
accounts in other shops (the same username and password): the session keeps a claim for each,
and switching signs out of one shop's login and into the other's, without the password —
each shop's status, capacity and presence stay its own, as two logins of two agents.
"""
from __future__ import annotations

import math
from datetime import UTC, datetime

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)

from bridge.accounts import presence, throttle
from bridge.accounts.login import (
    authenticate,
    same_person_elsewhere,
    sign_in,
    sign_out,
    vouched_agent,
)
from bridge.accounts.models import Login
from bridge.infra import db
from bridge.models import Agent, Shop
from bridge.web import csrf
from bridge.web import session as inbox_session
from bridge.web.inbox.pages import login_page, session_login

bp = Blueprint("signin", __name__)
LONGEST = {"shop": 64, "username": 64, "password": 1024}


@bp.post("/login")
def login() -> Response:
    shop_key, username, password = (request.form.get(k, "") for k in ("shop", "username", "password"))
    typed = {"shop": shop_key[:64], "username": username[:64]}
    if not csrf.valid(request.form.get(csrf.FIELD)):
        return login_page(403, "页面已过期，请重新登录。", **typed)
    if not (shop_key and username and password):
        return login_page(400, "请填写店铺、用户名和密码。", **typed)
    if any(len(value) > LONGEST[k] for k, value in (("shop", shop_key), ("username", username), ("password", password))):
        return login_page(400, "店铺、用户名或密码过长。", **typed)
    redis, address = current_app.extensions["redis"], request.remote_addr or ""
    wait = throttle.retry_after(redis, shop_key, username, address)
    if wait:
        return login_page(429, f"登录失败次数过多，请 {math.ceil(wait / 60)} 分钟后再试。", **typed,
                          headers={"Retry-After": str(wait)})
    agent = authenticate(db.session(), shop_key, username, password)
    if agent is None:
        throttle.failed(redis, shop_key, username, address)
        return login_page(401, "店铺、用户名或密码不正确。", **typed)
    throttle.succeeded(redis, shop_key, username, address)
    opened = {shop_key: (agent.id, agent.token_version)}
    for other, shop in same_person_elsewhere(db.session(), agent, password):
        opened[shop.key] = (other.id, other.token_version)
    _leave(session_login())  # a sign-in from another tab's form replaces this browser's
    inbox_session.begin(_arrive(agent), shop_key, opened)
    csrf.renew()
    return to_inbox()


@bp.post("/logout")
def logout() -> Response:
    """Ends the session's login (the agent's other clients stay in) and the session."""
    if not csrf.valid(request.form.get(csrf.FIELD)):
        return refused(403, "页面已过期，请刷新后再退出。")
    shop_key = inbox_session.current_shop()
    _leave(session_login())
    inbox_session.end()
    return redirect(url_for("inbox.pages.home", shop=shop_key), 303)  # the form names the shop again


@bp.post("/shop")
def switch_shop() -> Response:
    if not csrf.valid(request.form.get(csrf.FIELD)):
        return refused(403, "页面已过期，请刷新后再切换店铺。")
    login = session_login()
    if login is None:
        return to_inbox()
    key = request.form.get("shop", "")
    claim = inbox_session.shops().get(key)
    if not isinstance(claim, list) or len(claim) != 2:
        return refused(403, "本次登录不能切换到这个店铺。")
    if key == inbox_session.current_shop():
        return to_inbox()
    agent = vouched_agent(db.session(), *claim)
    if agent is None or db.session().get(Shop, agent.shop_id).key != key:
        inbox_session.forget(key)
        return refused(403, "这个店铺的账号已停用或密码已更改，请用新密码登录这个店铺。")
    _leave(login)
    inbox_session.switched(key, _arrive(agent))
    return to_inbox()


def _arrive(agent: Agent) -> str:
    """A new login of AGENT, committed and heard from; its token."""
    now = datetime.now(UTC)
    login, token = sign_in(db.session(), current_app.config["SECRET_KEY"], agent, now)
    presence.arrived(db.session(), login, now, presence.timeout())
    return token


def _leave(login: Login | None) -> None:
    """LOGIN ends (committed); its agent is away unless another of its clients is there."""
    if login is not None:
        agent = login.agent
        sign_out(db.session(), login)
        presence.left(db.session(), agent, datetime.now(UTC), presence.timeout())


def to_inbox() -> Response:
    return redirect(url_for("inbox.pages.home"), 303)


def refused(status: int, message: str) -> Response:
    page = render_template("inbox/error.html", status=status, message=message)
    return Response(page, status=status, mimetype="text/html")
