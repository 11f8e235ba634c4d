"""Deliver one outbox row."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import partial

from flask import current_app

from bridge import delivery
from bridge.channels.runtime import adapter_for
from bridge.infra import db


def deliver_message(message_id: int) -> str:
    app = current_app._get_current_object()
    with db.new_session(app) as session:
        outcome = delivery.deliver(session, message_id, partial(adapter_for, app),
                                   datetime.now(timezone.utc))
    return outcome.state
