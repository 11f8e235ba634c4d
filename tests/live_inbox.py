"""The app served over real HTTP in this process with its jobs running beside it, for browser
tests of the inbox: a page, its event stream and the worker's deliveries all live at once."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from rq.timeouts import TimerDeathPenalty
from werkzeug.serving import make_server

from bridge.infra import tasks
from tests.factories import BurstWorker
from tests.live import free_port

log = logging.getLogger(__name__)


class ThreadWorker(BurstWorker):
    """A burst worker that runs outside the main thread: signals are the main thread's, so no
    handlers, and a job's time limit kept by a timer instead of SIGALRM."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self):
        pass


class Jobs(threading.Thread):
    """The workers' part, in the test process: queued jobs run a few times a second."""

    def __init__(self, app: Flask):
        super().__init__(daemon=True)
        self.app, self.stopped = app, threading.Event()

    def run(self):
        queues = tasks.worker_queues(self.app)
        with self.app.app_context():
            while not self.stopped.is_set():
                try:
                    ThreadWorker(queues, connection=self.app.extensions["redis"]).work(burst=True,
                                                                                      with_scheduler=True)
                except Exception:  # noqa: BLE001 - a Redis call timing out on a busy machine, say
                    # Raised out of the worker itself (not a job: RQ keeps those): a dead thread
                    # would run no job again, and every later shopper would wait unrouted.
                    log.exception("the test's job worker failed; starting another")
                self.stopped.wait(0.2)


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """APP on a free port with its jobs running; yields its base URL, also kept as app.base."""
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    jobs = Jobs(app)
    jobs.start()
    app.base = f"http://127.0.0.1:{port}"
    try:
        yield app.base
    finally:
        server.shutdown()  # no request enqueues more
        jobs.stopped.set()
        # Wait for the worker to be gone, however long its last burst takes on a busy machine:
        # once this test's Redis database is released, the next test may lease the same one,
        # and a worker still running would take that test's jobs (its routing, say) and run
        # them against this test's app — the shopper would never be routed.
        jobs.join(120)
        if jobs.is_alive():
            raise RuntimeError("the test's job worker did not stop within 120 s")
