"""The periodic sweep: hand out again what a lost job or a dead worker left behind."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import current_app

from bridge import db, delivery, tasks


def sweep() -> int:
    app = current_app._get_current_object()
    with db.new_session(app) as session:
        stale = delivery.stale_outbox(
            session, datetime.now(timezone.utc),
            timedelta(seconds=app.config["DELIVERY_STALE_SECONDS"]))
    for message_id in stale:
        tasks.enqueue_delivery(message_id)
    return len(stale)
