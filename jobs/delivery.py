"""Deliver one outbox row."""
from __future__ import annotations

from datetime import datetime, timezone
from functools import partial

from flask import current_app
from rq import Retry

from bridge import delivery
from bridge.channels.runtime import adapter_for
from bridge.events import payloads
from bridge.infra import db
from bridge.infra.tasks import RETRY_INTERVALS
from bridge.media.thumbnails import CardThumbnails
from bridge.media.uploads import MediaUploads


def deliver_message(message_id: int) -> str | Retry:
    """A transient failure is an outcome, not an exception: the job returns RQ's Retry, and
    RQ runs it again after the next interval without logging a traceback for it. Whatever
    the attempt did to the row (sent, failed, a retry to come) goes out as message.updated."""
    app = current_app._get_current_object()
    uploads = MediaUploads(app.extensions["media_store"], app.extensions["redis"])
    with db.new_session(app) as session:
        for earlier in delivery.earlier_pending(session, message_id):  # the conversation's order first
            _attempt(session, app, earlier, uploads)
        outcome = _attempt(session, app, message_id, uploads)
    if outcome.state == "retry":
        return Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS)
    return outcome.state


def _attempt(session, app, message_id: int, uploads: MediaUploads) -> delivery.Outcome:
    """One delivery attempt of the row; what it did goes out as message.updated. An earlier
    row that must be retried is left pending for its own job to retry."""
    thumbnails = CardThumbnails(uploads, private_ok=app.config["CARD_IMAGES_FROM_PRIVATE_ADDRESSES"])
    outcome = delivery.deliver(session, message_id, partial(adapter_for, app), datetime.now(timezone.utc), uploads,
                               thumbnails)
    if outcome.state != "skipped":
        payloads.tell_delivery(session, message_id)
    return outcome
