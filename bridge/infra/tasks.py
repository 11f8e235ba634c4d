"""The job queue (RQ on the app's Redis) and what the bridge hands to it."""
from __future__ import annotations

import logging

import redis
from flask import Flask, current_app
from rq import Queue, Retry

from bridge import keys

log = logging.getLogger(__name__)


# RQ's waits before each retry of a delivery that met a transient failure (busy, network):
# the job returns a Retry with them (jobs/delivery.py). The same retries given at enqueue
# cover a job that raised (a database away, a bug), whose traceback RQ logs.
RETRY_INTERVALS = [2, 10, 30, 60]


def init_app(app: Flask) -> None:
    app.extensions["rq_queue"] = Queue(app.config["RQ_QUEUE"], connection=app.extensions["redis"])


def queue() -> Queue:
    return current_app.extensions["rq_queue"]


def enqueue_delivery(message_id: int) -> None:
    """After the commit. If Redis is unreachable the row stays pending for the sweeper."""
    try:
        queue().enqueue(
            "jobs.delivery.deliver_message", message_id,
            job_id=keys.delivery_job(message_id),
            retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
            result_ttl=60, failure_ttl=7 * 86400,
        )
    except redis.RedisError as exc:
        log.warning("message %s: not enqueued (%s); the sweeper will pick it up", message_id, exc)
    except Exception:  # noqa: BLE001 — the outbox row is the source of truth
        log.exception("message %s: enqueue failed; the sweeper will pick it up", message_id)


DISPATCH_FLAG_SECONDS = 60  # a flag whose job was lost expires; the sweep routes meanwhile


def enqueue_dispatch(shop_id: int) -> None:
    """Route the shop's queue soon. Coalesced: the flag (SET NX) lets one job wait per shop
    however many shoppers arrive; the job clears the flag before it reads the queue, so
    nothing arriving later is missed. After the commit; if Redis is unreachable, the sweep
    dispatches every shop with a queue."""
    try:
        if current_app.extensions["redis"].set(keys.dispatch_flag(shop_id), "1", nx=True,
                                               ex=DISPATCH_FLAG_SECONDS):
            queue().enqueue("jobs.routing.dispatch_shop", shop_id, result_ttl=0, failure_ttl=86400)
    except redis.RedisError as exc:
        log.warning("shop %s: dispatch not enqueued (%s); the sweeper will route", shop_id, exc)
    except Exception:  # noqa: BLE001 — the sweep dispatches every shop with a queue
        log.exception("shop %s: dispatch enqueue failed; the sweeper will route", shop_id)
