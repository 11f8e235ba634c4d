"""Fault: one agent token opens many live event streams, then shoppers write.

    .venv/bin/python bench/faults/stream_flood.py [--streams 24] [--root TREE]

Real parts: a fresh PostgreSQL database (dropped after), Redis (db 13), the fake WeChat API
(tests/fake_wechat.py) and gunicorn 2 processes × 8 threads, the setting the fault was found
with, started from --root (default: this checkout; give another tree, e.g. a `git worktree`
of an older commit, for the before figures). Then:

  1. 8 pushes, one after another, before any stream: the usual time;
  2. --streams `GET /api/v1/events` opened at once with bob's one token, held open;
  3. 8 pushes again (each given WeChat's 5 s) and alice logging in.

Prints the streams' answers (200 / 429 / 503), the pushes answered within 5 s and the
slowest, and the login's time. Only 127.0.0.1 is ever used.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.factories import shop_doc, signed, text_xml  # noqa: E402
from tests.fake_wechat import FakeWeChat  # noqa: E402
from tests.live import app_env, free_port  # noqa: E402

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


def say(msg: str) -> None:
    print(f"[stream_flood {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pushes(base: str, tag: str) -> list[float | None]:
    """Seconds each of 8 pushes took to be answered 200; None: not within 5 s."""
    took = []
    for n in range(8):
        args, body = signed("acmetoken", text_xml(f"o-{tag}-{n}", "在吗"))
        started = time.monotonic()
        try:
            ok = requests.post(f"{base}/hooks/wechat-oa/acme-oa", params=args, data=body, timeout=5).ok
        except requests.RequestException:
            ok = False
        took.append(time.monotonic() - started if ok else None)
    return took


def show(label: str, took: list[float | None]) -> None:
    answered = [t for t in took if t is not None]
    slowest = f"{max(answered):.2f} s" if answered else "-"
    say(f"{label}: answered within 5 s {len(answered)}/{len(took)}, slowest {slowest}")


def open_streams(base: str, token: str, count: int) -> list[requests.Response | str]:
    results: list = [None] * count

    def one(n: int) -> None:
        try:
            results[n] = requests.get(f"{base}/api/v1/events", headers={"Authorization": f"Bearer {token}"},
                                      stream=True, timeout=(5, 600))
        except requests.RequestException as exc:
            results[n] = type(exc).__name__
    threads = [threading.Thread(target=one, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return [r if r is not None else "no answer in 10 s" for r in results]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=int, default=24)
    parser.add_argument("--root", type=Path, default=ROOT)
    opts = parser.parse_args()
    name = f"kefu_flood_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    fake = FakeWeChat().start()
    url = f"postgresql://postgres@127.0.0.1:5432/{name}"
    env = app_env(url, "redis://127.0.0.1:6379/13", fake.url)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    gunicorn = None
    try:
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(shop_doc(), f)
        subprocess.run([*flask, "db", "upgrade"], cwd=opts.root, env=env, check=True, capture_output=True)
        subprocess.run([*flask, "shops", "load", f.name], cwd=opts.root, env=env, check=True, capture_output=True)
        port = free_port()
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "8",
             "-b", f"127.0.0.1:{port}", "wsgi:app"], cwd=opts.root, env=env,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base + "/hooks/none/none", timeout=2)
                break
            except requests.RequestException:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        say(f"tree {opts.root}, gunicorn 2 processes × 8 threads")
        show("before any stream", pushes(base, "quiet"))
        token = requests.post(f"{base}/api/v1/auth/login", timeout=5, json={
            "shop": "acme", "username": "bob", "password": "bob-password"}).json()["token"]
        streams = open_streams(base, token, opts.streams)
        answers = Counter(r.status_code if isinstance(r, requests.Response) else r for r in streams)
        say(f"{opts.streams} streams with one token: {dict(answers)}")
        show(f"with the streams open", pushes(base, "flood"))
        started = time.monotonic()
        try:
            status = requests.post(f"{base}/api/v1/auth/login", timeout=10, json={
                "shop": "acme", "username": "alice", "password": "alice-password"}).status_code
        except requests.RequestException as exc:
            status = type(exc).__name__
        say(f"alice logs in: {status} in {time.monotonic() - started:.2f} s")
        for r in streams:
            if isinstance(r, requests.Response):
                r.close()
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(10)
        fake.stop()
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
