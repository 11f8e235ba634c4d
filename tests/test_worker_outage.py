"""Workers outlive Redis: a `flask worker` against a redis-server of the test's own, killed and
started again, goes on working; and its Redis calls wait seconds, not RQ's 415 s."""
from __future__ import annotations

import shutil
import subprocess
import sys
import time

import pytest
import redis
from rq import Queue

from bridge.infra import redisconn, tasks
from bridge.processes.worker import SteadyWorker
from tests.conftest import make_app
from tests.live import ROOT, app_env, free_port

pytestmark = pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")


class RedisServer:
    """A redis-server on a spare port, without persistence: killed, it comes back empty."""

    def __init__(self, tmp_path):
        self.port, self.dir, self.proc = free_port(), tmp_path, None
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", str(self.dir)],
                                     stdout=subprocess.DEVNULL)
        client = redis.Redis.from_url(self.url)
        until(lambda: _answers(client), "redis-server to answer")

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def _answers(client: redis.Redis) -> bool:
    try:
        return client.ping()
    except redis.ConnectionError:
        return False


def until(condition, what: str, limit: float = 15.0) -> None:
    """Wait for CONDITION; a bound so a broken worker fails the test instead of hanging it."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def server(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    yield server
    if server.proc.poll() is None:
        server.kill()


def test_a_worker_goes_on_working_after_redis_dies_and_comes_back(pg_url, server, tmp_path):
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=ROOT,
                                  env=app_env(pg_url, server.url, LOG_LEVEL="INFO"), stdout=out, stderr=out)
    try:
        client = redis.Redis.from_url(server.url)
        until(lambda: client.scard("rq:workers") > 0, "the worker to register", limit=60)
        server.kill()
        # RQ's own loop logs the lost connection; it used to quit right after ("quitting...").
        until(lambda: b"Connection refused" in log.read_bytes(), "the worker to meet the outage")
        server.start()
        app = make_app(pg_url, server.url)
        job = tasks.worker_queues(app)[0].enqueue("os.getpid")  # the first queue the worker takes
        until(lambda: job.get_status(refresh=True) == "finished", "the job after the outage")
        assert worker.poll() is None, log.read_text()
    finally:
        worker.terminate()
        worker.wait(10)
    assert worker.returncode == 0, log.read_text()  # a stop asked for ends it cleanly


def test_rq_keeps_a_workers_redis_timeout_in_seconds(server):
    client = redisconn.connect(server.url)
    assert client.connection_pool.connection_kwargs["socket_timeout"] == redisconn.WEB_TIMEOUT
    redisconn.use_worker_timeouts(client)
    worker = SteadyWorker([Queue("kefu-timeouts", connection=client)], connection=client)
    # RQ raises a connection's timeout to cover its BLPOP (415 s by default): not here.
    assert worker.connection.connection_pool.connection_kwargs["socket_timeout"] == redisconn.WORKER_TIMEOUT
    assert worker.dequeue_timeout < redisconn.WORKER_TIMEOUT
