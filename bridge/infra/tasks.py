"""The job queues (RQ on the app's Redis) and what the bridge hands to them.

Three queues, which every worker takes in this order (RQ always dequeues from the first
non-empty one): an agent's reply never waits behind a burst of notices.

    <RQ_QUEUE>:replies    agents' replies
    <RQ_QUEUE>:dispatch   routing a shop's queue, the periodic sweep
    <RQ_QUEUE>:notices    notices (welcome, queue place, …), the robot's keyword answers,
                          the daily retention purge
"""
from __future__ import annotations

import logging

import redis
from flask import Flask, current_app
from rq import Queue, Retry
from rq.job import Job, JobStatus

from bridge import keys

log = logging.getLogger(__name__)


# RQ's waits before each retry of a delivery that met a transient failure (busy, network):
# the job returns a Retry with them (jobs/delivery.py). The same retries given at enqueue
# cover a job that raised (a database away, a bug), whose traceback RQ logs.
RETRY_INTERVALS = [2, 10, 30, 60]


REPLIES, DISPATCH, NOTICES = "replies", "dispatch", "notices"
QUEUES = (REPLIES, DISPATCH, NOTICES)  # the order every worker takes them in
LEGACY = ""  # the one queue before there were three (named RQ_QUEUE): drained last


def queue_name(prefix: str, name: str) -> str:
    return f"{prefix}:{name}" if name else prefix


def init_app(app: Flask) -> None:
    app.extensions["rq_queues"] = {
        name: Queue(queue_name(app.config["RQ_QUEUE"], name), connection=app.extensions["redis"])
        for name in (*QUEUES, LEGACY)}


def queue(name: str) -> Queue:
    return current_app.extensions["rq_queues"][name]


def worker_queues(app: Flask) -> list[Queue]:
    """What a worker listens to, first things first; the legacy queue drains what an older
    version left there."""
    return [app.extensions["rq_queues"][name] for name in (*QUEUES, LEGACY)]


def delivery_queue(sender: str) -> str:
    """An agent's reply goes first; what the shop sends by itself (notices, the robot) after."""
    return REPLIES if sender == "agent" else NOTICES


def enqueue_delivery(message_id: int, sender: str) -> None:
    """After the commit. If Redis is unreachable the row stays pending for the sweeper."""
    try:
        queue(delivery_queue(sender)).enqueue(
            "jobs.delivery.deliver_message", message_id,
            job_id=keys.delivery_job(message_id),
            retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
            result_ttl=60, failure_ttl=7 * 86400,
        )
    except redis.RedisError as exc:
        log.warning("message %s: not enqueued (%s); the sweeper will pick it up", message_id, exc)
    except Exception:  # noqa: BLE001 — the outbox row is the source of truth
        log.exception("message %s: enqueue failed; the sweeper will pick it up", message_id)


def enqueue_typing(conversation_id: int) -> None:
    """Show the shopper the agent is typing (jobs/typing.py), on the replies' queue, since it
    is worth nothing late. Never retried: a lost indicator is not worth a second try."""
    try:
        queue(REPLIES).enqueue("jobs.typing.show_typing", conversation_id, result_ttl=0, failure_ttl=3600)
    except Exception as exc:  # noqa: BLE001 — an indicator is a nicety
        log.warning("conversation %s: typing not enqueued (%s)", conversation_id, type(exc).__name__)


def enqueue_media_fetch(message_id: int) -> None:
    """Fetch a shopper's media (media/fetch.py), after the commit. If Redis is unreachable the
    message stays `fetching` for the sweeper."""
    try:
        queue(NOTICES).enqueue(
            "jobs.media.fetch_media", message_id, job_id=keys.media_fetch_job(message_id),
            retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
            result_ttl=60, failure_ttl=7 * 86400,
        )
    except redis.RedisError as exc:
        log.warning("message %s: media fetch not enqueued (%s); the sweeper will pick it up", message_id, exc)
    except Exception:  # noqa: BLE001 — the row's media.state is the source of truth
        log.exception("message %s: media fetch enqueue failed; the sweeper will pick it up", message_id)


DISPATCH_FLAG_SECONDS = 60  # a flag whose job was lost expires; the sweep routes meanwhile


def enqueue_dispatch(shop_id: int) -> None:
    """Route the shop's queue soon. Coalesced: the flag (SET NX) lets one job wait per shop
    however many shoppers arrive; the job clears the flag before it reads the queue, so
    nothing arriving later is missed. After the commit; if Redis is unreachable, the sweep
    dispatches every shop with a queue."""
    try:
        if current_app.extensions["redis"].set(keys.dispatch_flag(shop_id), "1", nx=True,
                                               ex=DISPATCH_FLAG_SECONDS):
            queue(DISPATCH).enqueue("jobs.routing.dispatch_shop", shop_id, result_ttl=0, failure_ttl=86400)
    except redis.RedisError as exc:
        log.warning("shop %s: dispatch not enqueued (%s); the sweeper will route", shop_id, exc)
    except Exception:  # noqa: BLE001 — the sweep dispatches every shop with a queue
        log.exception("shop %s: dispatch enqueue failed; the sweeper will route", shop_id)


def delivery_waiting(message_id: int) -> bool:
    """Whether the message's delivery job is still in its queue or RQ's scheduled registry
    (a retry's wait), and so will run without being enqueued again. A job that has left both
    (Redis lost it, a worker died running it) is not waiting."""
    return job_waiting(keys.delivery_job(message_id))


def media_fetch_waiting(message_id: int) -> bool:
    """Whether the message's media fetch job waits in its queue or for a retry (delivery_waiting)."""
    return job_waiting(keys.media_fetch_job(message_id))


def job_waiting(job_id: str) -> bool:
    connection = current_app.extensions["redis"]
    status, origin = connection.hmget(Job.key_for(job_id), "status", "origin")
    if origin is None:
        return False
    origin = origin.decode()
    if status == JobStatus.QUEUED.value.encode():
        return connection.lpos(Queue(origin, connection=connection).key, job_id) is not None
    if status == JobStatus.SCHEDULED.value.encode():
        registry = Queue(origin, connection=connection).scheduled_job_registry
        return connection.zscore(registry.key, job_id) is not None
    return False
