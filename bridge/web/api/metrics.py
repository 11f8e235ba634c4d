"""GET /api/v1/stats/daily (and .csv): the metrics page's figures, per day in the shop's time
zone, for the shop and each agent (admins only; README, Agent API, says what each counts)."""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import select

from bridge.infra import db
from bridge.metrics.daily import BadRange, daily_figures, day_range, span
from bridge.metrics.export import csv_text
from bridge.metrics.rows import read_rows
from bridge.models import Agent, Shop
from bridge.web.api.auth import current_agent, login_required
from bridge.web.api.errors import APIError

bp = Blueprint("metrics", __name__)


@bp.get("/stats/daily")
@bp.get("/stats/daily.csv")
@login_required
def daily():
    """?from=YYYY-MM-DD&to=YYYY-MM-DD (default: the last 7 days, today included), at most 92
    days; ?format=csv or the .csv path for the spreadsheet."""
    agent = current_agent()
    if agent.role != "admin":
        raise APIError(403, "forbidden", "the metrics are for admins")
    as_csv = _format() == "csv" or request.path.endswith(".csv")
    session = db.session()
    shop = session.get(Shop, agent.shop_id)
    tz = ZoneInfo(shop.timezone)
    try:
        days = day_range(request.args.get("from"), request.args.get("to"), datetime.now(UTC).astimezone(tz).date())
    except BadRange as exc:
        raise APIError(400, "bad_request", str(exc)) from None
    agents = session.execute(select(Agent.id, Agent.username, Agent.active).where(Agent.shop_id == shop.id)).all()
    rows = read_rows(session, shop.id, [a.id for a in agents], *span(days, tz))
    shop_rows, agent_rows = daily_figures(days, tz, rows.stints, rows.answers, rows.ratings,
                                          agent_ids=[a.id for a in agents if a.active])
    names = {a.id: a.username for a in agents}
    by_name = {names[agent_id]: figures for agent_id, figures in sorted(agent_rows.items(), key=lambda kv: names[kv[0]])}
    first, last = days[0].isoformat(), days[-1].isoformat()
    if as_csv:
        return Response(csv_text(shop_rows, by_name), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="kefu-{shop.key}-{first}-{last}.csv"'})
    return jsonify({"from": first, "to": last, "timezone": shop.timezone, "days": [d.isoformat() for d in days],
                    "shop": shop_rows, "agents": by_name})


def _format() -> str:
    wanted = request.args.get("format", "json")
    if wanted not in ("json", "csv"):
        raise APIError(400, "bad_request", "format must be json or csv")
    return wanted
