"""The agent web inbox, /inbox/: the login form, the cookie session's sign-in, logout and shop
switch (signin.py), and the page the inbox's scripts fill (pages.py). Every answer here carries
headers that keep the page to itself: scripts and styles from this server only (no inline
script: page data is a JSON block), never framed, no referrer to other sites, and nothing a
signed-in page showed kept in a cache."""
from __future__ import annotations

from flask import Blueprint, Response, render_template
from werkzeug.exceptions import HTTPException

from bridge.web.inbox import metrics_page, pages, signin

bp = Blueprint("inbox", __name__, url_prefix="/inbox", template_folder="templates",
               static_folder="static")
for view in (pages, signin, metrics_page):
    bp.register_blueprint(view.bp)
URL_SPACE = "/inbox"

POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; "
          "img-src 'self' https: data: blob:; "  # shop data's product pictures live on the shops' own hosts
          "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")


@bp.after_request
def keep_to_itself(resp: Response) -> Response:
    resp.headers["Content-Security-Policy"] = POLICY
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Referrer-Policy"] = "same-origin"
    resp.headers["X-Content-Type-Options"] = "nosniff"
    if resp.mimetype == "text/html":
        resp.headers["Cache-Control"] = "no-store"
    return resp


def render_unrouted(exc: HTTPException) -> Response:
    """An HTML page in the inbox's words, with the inbox's headers."""
    page = render_template("inbox/error.html", status=exc.code, message=MESSAGES.get(exc.code, exc.name))
    return keep_to_itself(Response(page, status=exc.code, mimetype="text/html"))


MESSAGES = {404: "页面不存在。", 405: "不支持这种请求方式。", 413: "提交的内容太大。"}
bp.register_error_handler(HTTPException, render_unrouted)
