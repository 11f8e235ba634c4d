"""The worker process: RQ with its scheduler, and a ticker that enqueues the periodic sweep."""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask
from redis import exceptions as redis_errors
from rq import SimpleWorker, Worker
from rq.scheduler import RQScheduler

from bridge import keys, logs
from bridge.infra import tasks

log = logging.getLogger(__name__)


def start_ticker(app: Flask, stop: threading.Event) -> threading.Thread:
    """Every SWEEP_INTERVAL_SECONDS, one process in the whole deployment enqueues the sweep.

    Every worker runs a ticker, so the sweep survives the loss of any of them; a Redis key
    set with NX makes the interval's sweep happen once however many tickers there are.
    """
    interval = app.config["SWEEP_INTERVAL_SECONDS"]
    redis = app.extensions["redis"]
    queue = app.extensions["rq_queues"][tasks.DISPATCH]

    def tick() -> None:
        while not stop.is_set():
            slot = int(time.time() // interval)
            try:
                if redis.set(keys.sweep_slot(slot), "1", nx=True, ex=interval * 2):
                    queue.enqueue("jobs.sweep.sweep", job_id=keys.sweep_job(slot), result_ttl=interval)
            except redis_errors.RedisError as exc:  # Redis away: try again next interval
                log.warning("sweep ticker could not enqueue (%s)", exc)
            except Exception:  # a bug: say where, keep ticking
                log.exception("sweep ticker could not enqueue")
            stop.wait(interval - time.time() % interval + 0.05)

    thread = threading.Thread(target=tick, name="sweep-ticker", daemon=True)
    thread.start()
    return thread


def start_inline_scheduler(app: Flask, stop: threading.Event) -> threading.Thread:
    """RQ's scheduler in a thread, for the embedded Redis stand-in.

    RQ forks its scheduler into a child process; with Redis living inside this process the
    child would move scheduled jobs (retries with backoff) in a copy nobody reads.
    """
    redis = app.extensions["redis"]
    scheduler = RQScheduler([q.name for q in tasks.worker_queues(app)], connection=redis,
                            logging_level=logs.library_level(app.config["LOG_LEVEL"]))
    scheduler._connection = redis  # the stand-in cannot be reopened from connection kwargs

    def loop() -> None:
        while not stop.is_set():
            try:
                if scheduler.should_reacquire_locks:
                    scheduler.acquire_locks()
                scheduler.enqueue_scheduled_jobs()
            except Exception:  # noqa: BLE001 — keep scheduling; the next second may work
                log.exception("inline scheduler failed a round")
            stop.wait(1)

    thread = threading.Thread(target=loop, name="rq-scheduler", daemon=True)
    thread.start()
    return thread


def run_worker(app: Flask, burst: bool = False) -> None:
    """Must run in the main thread: RQ installs signal handlers."""
    embedded = app.config["REDIS_URL"] is None
    # The embedded Redis lives in this process: a forked work horse would write to a copy.
    worker_class = SimpleWorker if embedded else Worker
    stop = threading.Event()
    if not burst:
        start_ticker(app, stop)
        if embedded:
            start_inline_scheduler(app, stop)
    # Agents' replies first, then routing, then notices (tasks.QUEUES): RQ takes each job
    # from the first of its queues that has one.
    worker = worker_class(tasks.worker_queues(app), connection=app.extensions["redis"])
    try:
        with app.app_context():
            # RQ sets its loggers' level as it starts: its routine lines only at DEBUG (logs.py).
            worker.work(with_scheduler=not embedded, burst=burst,
                        logging_level=logs.library_level(app.config["LOG_LEVEL"]))
    finally:
        stop.set()
