"""The periodic sweep: end `unknown` what a dead worker left sending, hand out again what a
lost job left undone (a delivery pending, a shopper's media still to fetch), and run the
conversation timers (idle end, reply timeout, the queue), tell who has gone away, and, once a
day, retention."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask import current_app
from sqlalchemy import select

from bridge import delivery, keys
from bridge.accounts import login, presence
from bridge.conversations import timers
from bridge.events import payloads
from bridge.infra import db, tasks
from bridge.media import fetch
from bridge.models import Message


def sweep() -> dict[str, int]:
    app = current_app._get_current_object()
    now = datetime.now(timezone.utc)
    with db.new_session(app) as session:
        interrupted = delivery.end_interrupted(session, now)
        for message_id in interrupted:  # shown at once: it may or may not have arrived
            payloads.tell_delivery(session, message_id)
        stale_after = timedelta(seconds=app.config["DELIVERY_STALE_SECONDS"])
        stale = delivery.hand_out_stale(session, now, stale_after)
        unfetched = fetch.hand_out_unfetched(session, now, stale_after)
        session.rollback()  # end the read (on SQLite every transaction holds the writer lock)
        done = {
            "interrupted": len(interrupted),
            "ended_idle": timers.end_idle(session, now),
            "reassigned": timers.reassign_unanswered(session, now),
            "dispatched": timers.dispatch_waiting(session, now),
            "gone_away": presence.announce_away(session, app.extensions["redis"], now, presence.timeout()),
        }
        # A row stale only because its job waits behind a backlog keeps that one job: another
        # enqueue would add a second copy of its id to the queue, and so grow the backlog.
        lost = [i for i in stale if not tasks.delivery_waiting(i)]
        senders = dict(session.execute(select(Message.id, Message.sender).where(Message.id.in_(lost))).all())
        session.rollback()
        done["redelivered"] = len(lost)
        lost_media = [i for i in unfetched if not tasks.media_fetch_waiting(i)]
        done["refetched"] = len(lost_media)
    for message_id in lost:
        tasks.enqueue_delivery(message_id, senders.get(message_id, "system"))
    for message_id in lost_media:
        tasks.enqueue_media_fetch(message_id)
    if app.extensions["redis"].set(keys.retention_day(now.date()), "1", nx=True, ex=2 * 86400):
        tasks.queue(tasks.NOTICES).enqueue("jobs.sweep.retention", result_ttl=3600)
    return done


def retention() -> int:
    app = current_app._get_current_object()
    now = datetime.now(timezone.utc)
    with db.new_session(app) as session:
        login.purge_expired(session, now, timedelta(seconds=app.config["TOKEN_MAX_AGE"]))
        return timers.purge_old_messages(session, now)
