"""The app under gunicorn in real processes, for tests of several processes at once."""
from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def app_env(database_url: str, redis_url: str | None, wechat_url: str = "http://127.0.0.1:9", **extra) -> dict:
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "test-secret",
           "WECHAT_API_BASE": wechat_url, **{k: str(v) for k, v in extra.items()}}
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


@contextmanager
def gunicorn(env: dict, workers: int = 4, args: tuple[str, ...] = ()):
    """Start `gunicorn wsgi:app` with several worker processes (ARGS: more of gunicorn's
    options, e.g. a thread count); yield its base URL."""
    port = free_port()
    # A file, not a pipe: nobody reads a pipe while the test runs, and a full one blocks the
    # workers' logging mid-request.
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--graceful-timeout", "2", *args, "wsgi:app"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base + "/hooks/none/none", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start: " + _tail(log))
                time.sleep(0.1)
        yield base
    except BaseException:
        sys.stderr.write("gunicorn's log, last part:\n" + _tail(log))
        raise
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _tail(log, size: int = 4000) -> str:
    log.seek(0, os.SEEK_END)
    log.seek(max(0, log.tell() - size))
    return log.read().decode(errors="replace")
