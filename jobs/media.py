"""Fetch one shopper message's media from its channel into the bridge's store."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import partial

from flask import current_app
from rq import Retry

from bridge.channels.runtime import adapter_for
from bridge.events import payloads
from bridge.infra import db
from bridge.infra.tasks import RETRY_INTERVALS
from bridge.media import fetch


def fetch_media(message_id: int) -> str | Retry:
    """A channel away or busy is an outcome: the job returns RQ's Retry (as deliveries do).
    The file stored, or given up on, goes out as message.updated."""
    app = current_app._get_current_object()
    with db.new_session(app) as session:
        outcome = fetch.fetch(session, message_id, partial(adapter_for, app), app.extensions["media_store"],
                              datetime.now(timezone.utc))
        if outcome.state in (fetch.STORED, fetch.UNAVAILABLE):
            payloads.tell_delivery(session, message_id)
    if outcome.state == "retry":
        return Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS)
    return outcome.state
