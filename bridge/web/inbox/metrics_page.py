"""GET /inbox/metrics: the metrics page, for admins. The page is a frame its module
(static/app/metrics.js) fills from GET /api/v1/stats/daily; it needs only the shop's today, so
the quick ranges (今天, 近7天, 近30天) end on the shop's day, not the browser's."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, redirect, render_template, url_for

from bridge.infra import db
from bridge.models import Shop
from bridge.web import csrf
from bridge.web.inbox.pages import session_login

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics_page() -> Response:
    login = session_login()
    if login is None:
        return redirect(url_for("inbox.pages.home"))
    if login.agent.role != "admin":
        page = render_template("inbox/error.html", status=403, message="数据报表仅管理员可查看。")
        return Response(page, status=403, mimetype="text/html")
    shop = db.session().get(Shop, login.agent.shop_id)
    today = datetime.now(ZoneInfo(shop.timezone)).date().isoformat()
    page = render_template("inbox/metrics.html", shop_name=shop.name, today=today, csrf_token=csrf.token(),
                           inbox_url=url_for("inbox.pages.home"))
    return Response(page, mimetype="text/html")
