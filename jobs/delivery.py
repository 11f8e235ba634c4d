"""Deliver one outbox row."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import partial

from flask import current_app

from bridge import db, delivery, outbound


def deliver_message(message_id: int) -> str:
    app = current_app._get_current_object()
    with db.new_session(app) as session:
        outcome = delivery.deliver(session, message_id, partial(outbound.send, app),
                                   datetime.now(timezone.utc))
    return outcome.state
