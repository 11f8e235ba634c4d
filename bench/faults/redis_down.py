"""Fault: Redis dies, then Redis freezes, while pushes and agents' replies flow.

    .venv/bin/python bench/faults/redis_down.py [--down 10] [--frozen 10]

Real parts from this checkout: a fresh PostgreSQL database (dropped after), a redis-server of
its own on a spare port (so it can be killed and SIGSTOPped), the fake WeChat API
(tests/fake_wechat.py), gunicorn 2 processes × 8 threads and two `flask worker` processes.
A shopper push every 0.1 s (20 shoppers, texts no keyword answers, so they reach the agent)
and an agent's reply every 0.3 s to a conversation she holds, throughout:

  1. kill: Redis killed for --down seconds, then started again (empty: no persistence);
  2. freeze: Redis SIGSTOPped for --frozen seconds, then SIGCONT.

Each phase prints: the workers alive, pushes answered 200 (and the slowest answer while Redis
was away), pushes stored once, replies committed / sent once / failed / unknown / pending,
and the recovery: seconds from Redis back until a reply posted then is sent, and until every
reply is out (pending ones wait for the sweep's DELIVERY_STALE_SECONDS, 120 s).
Only 127.0.0.1 is ever used.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
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

from tests.factories import shop_doc, signed, text_xml
from tests.fake_wechat import FakeWeChat
from tests.live import app_env, free_port

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SHOPPERS = 20


def say(msg: str) -> None:
    print(f"[redis_down {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Traffic:
    """Pushes and replies from two threads; every answer recorded with its time."""

    def __init__(self, base: str, auth: dict, first_msg_id: int):
        self.base, self.auth, self.first_msg_id = base, auth, first_msg_id
        self.pushes: list[tuple[float, float, int, str]] = []  # (sent at, seconds, status, msg id)
        self.replies: list[tuple[float, int, str]] = []  # (sent at, status, text)
        self.stop = threading.Event()

    def push(self, n: int) -> None:
        msg_id = self.first_msg_id + n
        args, body = signed("acmetoken", text_xml(f"o-shopper-{n % SHOPPERS}", f"问题 {n}", msg_id))
        started = time.monotonic()
        try:
            status = requests.post(f"{self.base}/hooks/wechat-oa/acme-oa", params=args, data=body,
                                   headers={"Content-Type": "text/xml"}, timeout=30).status_code
        except requests.RequestException:
            status = 0
        self.pushes.append((started, time.monotonic() - started, status, str(msg_id)))

    def reply(self, k: int) -> None:
        try:
            held = requests.get(f"{self.base}/api/v1/conversations", params={"state": "active"},
                                headers=self.auth, timeout=30).json()["items"]
        except (requests.RequestException, ValueError, KeyError):
            return
        if held:
            text = f"reply-{uuid.uuid4().hex[:10]}"
            try:
                status = requests.post(f"{self.base}/api/v1/conversations/{held[k % len(held)]['id']}/messages",
                                       json={"text": text}, headers=self.auth, timeout=30).status_code
            except requests.RequestException:
                status = 0
            self.replies.append((time.monotonic(), status, text))

    def run(self) -> None:
        """Open loop: each push and reply in a thread of its own, so a slow answer holds up
        nothing that follows it (as with WeChat, which pushes whatever the last one did)."""
        def every(seconds: float, action) -> None:
            n = 0
            while not self.stop.wait(seconds):
                n += 1
                threading.Thread(target=action, args=(n,), daemon=True).start()

        for seconds, action in ((0.1, self.push), (0.3, self.reply)):
            threading.Thread(target=every, args=(seconds, action), daemon=True).start()


class Redis:
    def __init__(self, port: int, workdir: str):
        self.port, self.workdir, self.proc = port, workdir, None

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--dir", self.workdir],
                                     stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while subprocess.run(["redis-cli", "-p", str(self.port), "ping"],
                             check=False, capture_output=True).stdout != b"PONG\n":
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()


def outbox(url: str) -> dict[str, tuple[str, float | None]]:
    """Agent replies by text: their delivery state, and when they were sent (epoch seconds)."""
    with psycopg.connect(url) as conn:
        return {text: (state, sent) for text, state, sent in conn.execute(
            "SELECT text, delivery, EXTRACT(EPOCH FROM sent_at)::float FROM messages WHERE sender = 'agent'")}


def stored_pushes(url: str) -> Counter:
    with psycopg.connect(url) as conn:
        return Counter(ext for (ext,) in conn.execute(
            "SELECT external_id FROM messages WHERE sender = 'customer' AND external_id IS NOT NULL"))


def phase(name: str, traffic: Traffic, redis: Redis, workers: list, db_url: str, fake: FakeWeChat,
          away: float, freeze: bool, drain: float) -> None:
    say(f"{name}: traffic for 5 s, then Redis {'frozen' if freeze else 'killed'} for {away:.0f} s")
    first_push, first_reply = len(traffic.pushes), len(traffic.replies)
    time.sleep(5)
    went = time.monotonic()
    if freeze:
        os.kill(redis.proc.pid, signal.SIGSTOP)
    else:
        redis.kill()
    time.sleep(away)
    if freeze:
        os.kill(redis.proc.pid, signal.SIGCONT)
    else:
        redis.start()
    back, back_wall = time.monotonic(), time.time()
    say(f"{name}: Redis back after {back - went:.1f} s; traffic for 10 s more")
    time.sleep(10)
    traffic.stop.set()
    time.sleep(31)  # the last requests' answers (30 s at most)
    pushes, replies = traffic.pushes[first_push:], traffic.replies[first_reply:]
    after = [text for at, status, text in replies if status == 201 and at >= back]
    committed = {text for _, status, text in replies if status == 201}
    deadline = time.monotonic() + drain
    while any(outbox(db_url).get(t, ("pending",))[0] in ("pending", "sending") for t in committed) \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    rows = outbox(db_url)
    states = {t: state for t, (state, _) in rows.items()}
    settled = all(states.get(t) not in ("pending", "sending") for t in committed)
    # From the database's send times: the first reply posted after Redis was back to be sent,
    # and the last reply of the phase to be sent.
    live_recovery = min((rows[t][1] for t in after if rows[t][1]), default=None)
    all_recovery = max((rows[t][1] for t in committed if rows[t][1]), default=None) if settled else None
    live_recovery = live_recovery and live_recovery - back_wall
    all_recovery = all_recovery and all_recovery - back_wall
    sent_texts = Counter(m["text"]["content"] for m in fake.sent() if m.get("msgtype") == "text")
    during = [p for p in pushes if went <= p[0] <= back]
    stored = stored_pushes(db_url)
    answered = [p for p in pushes if p[2] == 200]
    say(f"{name}: workers alive {sum(w.poll() is None for w in workers)}/{len(workers)}")
    say(f"{name}: pushes {len(pushes)}, answered 200 {len(answered)}, slowest {max(p[1] for p in pushes):.2f} s; "
        f"while Redis was away {len(during)}, answered 200 {sum(p[2] == 200 for p in during)}, "
        f"slowest {max((p[1] for p in during), default=0):.2f} s")
    say(f"{name}: pushes stored once {sum(stored[p[3]] == 1 for p in answered)}/{len(answered)}, "
        f"stored twice {sum(stored[p[3]] > 1 for p in answered)}")
    tally = Counter(states.get(t) for t in committed)
    say(f"{name}: replies committed {len(committed)} (refused {sum(s != 201 for _, s, _ in replies)}); "
        f"sent {tally['sent']} (sent once {sum(sent_texts[t] == 1 for t in committed)}, "
        f"twice {sum(sent_texts[t] > 1 for t in committed)}), failed {tally['failed']}, "
        f"unknown {tally['unknown']}, pending {tally['pending'] + tally['sending']}")
    say(f"{name}: recovery: a reply posted after Redis was back sent after "
        f"{'-' if live_recovery is None else f'{live_recovery:.1f} s'}; every reply out after "
        f"{f'not within {drain:.0f} s' if all_recovery is None else f'{all_recovery:.1f} s'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--down", type=float, default=10.0)
    parser.add_argument("--frozen", type=float, default=10.0)
    parser.add_argument("--drain", type=float, default=240.0, help="seconds to wait for every reply to be out")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="kefu-redis-down-")
    redis = Redis(free_port(), work)
    redis.start()
    name = f"kefu_fault_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    fake = FakeWeChat().start()
    doc = shop_doc()
    for channel in (c for shop in doc["shops"] for c in shop["channels"]):
        fake.register_app(channel["app_id"], channel["app_secret"])
    env = app_env(db_url, f"redis://127.0.0.1:{redis.port}/0", fake.url, MEDIA_DIR=work)
    shops = Path(work) / "shops.json"
    doc["shops"][0]["agents"][0]["max_concurrent"] = 50
    shops.write_text(json.dumps(doc))
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    procs: list[subprocess.Popen] = []
    logs = (Path(work) / "processes.log").open("wb")  # closed as the process ends
    try:
        subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        subprocess.run([*flask, "shops", "load", str(shops)], cwd=ROOT, env=env, check=True, capture_output=True)
        port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "8",
                                       "-b", f"127.0.0.1:{port}", "--graceful-timeout", "2", "wsgi:app"],
                                      cwd=ROOT, env=env, stdout=logs, stderr=logs))
        workers = [subprocess.Popen([*flask, "worker"], cwd=ROOT, env=env, stdout=logs, stderr=logs)
                   for _ in range(2)]
        procs += workers
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(base + "/hooks/none/none", timeout=2)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start")
                time.sleep(0.2)
        token = requests.post(f"{base}/api/v1/auth/login", json={
            "shop": "acme", "username": "alice", "password": "alice-password"}, timeout=10).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        requests.patch(f"{base}/api/v1/me", json={"status": "online"}, headers=auth, timeout=10).raise_for_status()
        say(f"PostgreSQL {name}, Redis :{redis.port}, gunicorn 2x8 :{port}, 2 workers; logs in {work}")
        for i, (fault, away, freeze) in enumerate((("kill", args.down, False), ("freeze", args.frozen, True))):
            traffic = Traffic(base, auth, 900_000_000 + 1_000_000 * i)
            traffic.run()
            phase(fault, traffic, redis, workers, db_url, fake, away, freeze, args.drain)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis.kill()
        fake.stop()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
