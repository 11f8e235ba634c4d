"""The worker process: RQ with its scheduler, and a ticker that enqueues the periodic sweep."""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask
from rq import SimpleWorker, Worker

log = logging.getLogger(__name__)


def start_ticker(app: Flask, stop: threading.Event) -> threading.Thread:
    """Every SWEEP_INTERVAL_SECONDS, one process in the whole deployment enqueues the sweep.

    Every worker runs a ticker, so the sweep survives the loss of any of them; a Redis key
    set with NX makes the interval's sweep happen once however many tickers there are.
    """
    interval = app.config["SWEEP_INTERVAL_SECONDS"]
    redis = app.extensions["redis"]
    queue = app.extensions["rq_queue"]

    def tick() -> None:
        while not stop.is_set():
            slot = int(time.time() // interval)
            try:
                if redis.set(f"kefu:sweep:{slot}", "1", nx=True, ex=interval * 2):
                    queue.enqueue("jobs.sweep.sweep", job_id=f"sweep-{slot}", result_ttl=interval)
            except Exception:  # noqa: BLE001 — Redis away: try again next interval
                log.exception("sweep ticker could not enqueue")
            stop.wait(interval - time.time() % interval + 0.05)

    thread = threading.Thread(target=tick, name="sweep-ticker", daemon=True)
    thread.start()
    return thread


def run_worker(app: Flask, burst: bool = False) -> None:
    """Must run in the main thread: RQ installs signal handlers."""
    # The embedded Redis lives in this process: a forked work horse would write to a copy.
    worker_class = SimpleWorker if app.config["REDIS_URL"] is None else Worker
    stop = threading.Event()
    if not burst:
        start_ticker(app, stop)
    worker = worker_class([app.extensions["rq_queue"]], connection=app.extensions["redis"])
    try:
        with app.app_context():
            worker.work(with_scheduler=True, burst=burst)
    finally:
        stop.set()
