"""The worker process: RQ with its scheduler, and a ticker that enqueues the periodic sweep."""
from __future__ import annotations

import logging
import signal
import threading
import time

from flask import Flask
from redis import exceptions as redis_errors
from rq import SimpleWorker, Worker
from rq.scheduler import RQScheduler

from bridge import keys, logs
from bridge.infra import redisconn, tasks

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


class _Steady:
    """RQ's worker with a worker's Redis timeouts, which tells a stop asked for by a signal
    from a loop that ended on its own (RQ logs the error and returns, Redis away or not).

    RQ blocks on BLPOP for 405 s and raises its connection's socket timeout to 415 s to allow
    it: a frozen Redis would hold the worker that long. Here it listens a few seconds at a time.
    """

    stopping: threading.Event

    @property
    def dequeue_timeout(self) -> int:
        return DEQUEUE_SECONDS

    @property
    def connection_timeout(self) -> int:
        return int(redisconn.WORKER_TIMEOUT)

    def request_stop(self, signum, frame) -> None:
        self.stopping.set()
        super().request_stop(signum, frame)  # type: ignore[misc]


class SteadyWorker(_Steady, Worker):
    pass


class SteadySimpleWorker(_Steady, SimpleWorker):
    pass


DEQUEUE_SECONDS = 3  # below redisconn.WORKER_TIMEOUT: a BLPOP must end before its socket gives up
# RQ's scheduler process dies with Redis; a worker starts another at its maintenance, once
# the dead one's lock (61 s) has lapsed. RQ's default of 10 minutes would hold retries that long.
MAINTENANCE_SECONDS = 60
RESTART_WAIT = (0.5, 5.0)  # a stopped loop waits for Redis from 0.5 s, doubling to 5 s between tries


def wait_for_redis(client, stop: threading.Event) -> bool:
    """Until Redis answers a PING (True) or a stop is asked for (False), backing off between
    tries. One line when the wait starts, one when Redis is back."""
    wait, started = RESTART_WAIT[0], time.monotonic()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(wait):
            try:
                client.ping()
            except redis_errors.RedisError as exc:
                if wait == RESTART_WAIT[0]:
                    log.warning("worker: Redis unreachable (%s); waiting for it, then working again", exc)
                wait = min(wait * 2, RESTART_WAIT[1])
                continue
            log.warning("worker: Redis answers again after %.1f s; working again", time.monotonic() - started)
            return True
        return False
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _stop_listening(worker: Worker | None) -> None:
    """RQ's teardown stops its command listener after recording the worker's end, which
    failed: stop it here, or each outage would leave one thread reconnecting for good."""
    thread = getattr(worker, "pubsub_thread", None)
    if thread is not None:
        thread.stop()


def run_worker(app: Flask, burst: bool = False) -> None:
    """Must run in the main thread: RQ installs signal handlers. RQ's loop ends on any error
    it meets, Redis gone among them: the worker waits for Redis and starts a fresh loop, and
    the sweep ticker keeps its schedule meanwhile, until a signal asks it to stop."""
    embedded = app.config["REDIS_URL"] is None
    # Each job runs in the worker process itself, on its pooled PostgreSQL and Redis connections.
    # RQ's default forks a work horse per job, which opens its own: about 110 ms of CPU a job
    # against 14 ms, and two forking workers on two cores delivered 18 replies a second to
    # widgets receiving 50 (bench/widget_streams.py). Jobs take ids and open their own short
    # sessions (jobs/), and a job's time limit still holds (RQ's SIGALRM, in this main thread).
    # The embedded Redis lives in this process too: a forked work horse would write to a copy.
    worker_class = SteadySimpleWorker
    redis = app.extensions["redis"]
    if not embedded:
        redisconn.use_worker_timeouts(redis)
    stop = threading.Event()
    if not burst:
        start_ticker(app, stop)
        if embedded:
            start_inline_scheduler(app, stop)
    try:
        with app.app_context():
            while not stop.is_set():
                worker = None
                try:
                    # Agents' replies first, then routing, then notices (tasks.QUEUES): RQ takes
                    # each job from the first of its queues that has one.
                    worker = worker_class(tasks.worker_queues(app), connection=redis,
                                          maintenance_interval=MAINTENANCE_SECONDS)
                    worker.stopping = stop
                    # RQ sets its loggers' level as it starts: its routine lines only at DEBUG (logs.py).
                    worker.work(with_scheduler=not embedded, burst=burst,
                                logging_level=logs.library_level(app.config["LOG_LEVEL"]))
                except redis_errors.RedisError as exc:  # RQ met it starting, or recording its end
                    if burst:
                        raise
                    log.warning("worker: RQ's loop could not start or end without Redis (%s)", exc)
                    _stop_listening(worker)
                if burst or stop.is_set() or not wait_for_redis(redis, stop):
                    break
    finally:
        stop.set()
