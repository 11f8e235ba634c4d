"""What an agent's tools read of the shop: its groups (to transfer to). Quick phrases: phrases.py."""
from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import select

from bridge.infra import db
from bridge.models import Group
from bridge.web.api.auth import current_agent, login_required

bp = Blueprint("shop", __name__)


@bp.get("/groups")
@login_required
def list_groups():
    rows = db.session().scalars(select(Group).where(Group.shop_id == current_agent().shop_id)
                                .order_by(Group.key)).all()
    return jsonify({"items": [{"key": g.key, "name": g.name} for g in rows]})
