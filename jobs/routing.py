"""Route a shop's waiting shoppers."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import current_app

from bridge import keys
from bridge.conversations import assignment
from bridge.infra import db


def dispatch_shop(shop_id: int) -> int:
    app = current_app._get_current_object()
    app.extensions["redis"].delete(keys.dispatch_flag(shop_id))
    with db.new_session(app) as session:
        return assignment.dispatch(session, shop_id, datetime.now(timezone.utc))
