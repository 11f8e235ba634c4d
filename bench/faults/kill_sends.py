"""Fault: RQ workers and their job processes SIGKILLed in the middle of slow sends.

    .venv/bin/python bench/faults/kill_sends.py [--replies 40] [--slow 2] [--every 2.5]

Real parts from this checkout: a fresh PostgreSQL database (dropped after), a redis-server of
its own on a spare port, the fake WeChat API (tests/fake_wechat.py) answering every send
after --slow seconds, gunicorn 2 processes × 8 threads and two `flask worker` processes.
Alice holds one conversation per shopper and posts --replies replies (a few refused by
WeChat with 40003, so some end visibly failed). While they go out, every --every seconds one
kill, in turn: a work horse (the process running a send), or a worker with its work horse
(a replacement worker is started). Then the sweep settles what the dead left `sending`
(the claim runs out after 90 s; the sweep runs every 30 s), and the script prints:

  sent once, failed, unknown (with how many of those WeChat did get), wrong state — a row
  `sent` that WeChat did not get exactly once, `failed` that WeChat got, still pending or
  sending, or anything WeChat got twice — and duplicates at the fake API for rows not
  marked unknown; then the window slots: spent by the bridge's count against WeChat's.

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
SEND = "/cgi-bin/message/custom/send"
QUOTA = 5  # messages per shopper message on the OA (FACTS.md §2)
QUIET = {"welcome_message": "", "queue_message": "", "off_hours_message": "", "no_agent_message": "",
         "rating_on_end": False}  # the shop's own notices would spend window slots too


def say(msg: str) -> None:
    print(f"[kill_sends {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class CountingWeChat(FakeWeChat):
    """The fake WeChat API, counting what it accepted per shopper and per text."""

    def __init__(self):
        super().__init__()
        self.got: Counter = Counter()  # text → times accepted
        self.per_shopper: Counter = Counter()  # openid → messages accepted
        self.server.handle_error = lambda request, address: None  # a killed sender's broken pipe

    def delivered(self, app_id: str, body: dict) -> None:
        self.got[(body.get("text") or {}).get("content")] += 1
        self.per_shopper[body["touser"]] += 1


def children(pid: int) -> list[int]:
    """The processes whose parent is PID (a worker's work horse), read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry))
    return found


def kill(pid: int) -> bool:
    try:
        os.kill(pid, signal.SIGKILL)
        return True
    except ProcessLookupError:
        return False


def outbox(url: str) -> dict[str, tuple[str, str | None]]:
    """Agent replies by text: (delivery state, error code)."""
    with psycopg.connect(url) as conn:
        return {text: (state, code) for text, state, code in conn.execute(
            "SELECT text, delivery, error_code FROM messages WHERE sender = 'agent'")}


def slots(url: str) -> dict[str, int]:
    """Window slots each shopper has spent, by the bridge's count."""
    with psycopg.connect(url) as conn:
        return {openid: QUOTA - quota for openid, quota in conn.execute(
            "SELECT external_id, window_quota FROM customers")}


def run(args, base: str, auth: dict, db_url: str, fake: CountingWeChat, workers: list, start_worker) -> None:
    shoppers = [f"o-kill-{i}" for i in range(args.replies)]
    for i, openid in enumerate(shoppers):
        query, body = signed("acmetoken", text_xml(openid, f"我的订单 {i}", 700_000_000 + i))
        requests.post(f"{base}/hooks/wechat-oa/acme-oa", params=query, data=body,
                      headers={"Content-Type": "text/xml"}, timeout=30).raise_for_status()
    deadline = time.monotonic() + 60
    while True:
        held = requests.get(f"{base}/api/v1/conversations", params={"state": "active"},
                            headers=auth, timeout=30).json()["items"]
        if len(held) == len(shoppers) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    say(f"{len(held)}/{len(shoppers)} conversations assigned to alice; WeChat answers sends after "
        f"{args.slow:.1f} s, {args.refused} refused (40003)")
    fake.slow(SEND, args.slow)
    fake.fail_next(SEND, 40003, times=args.refused)
    texts = []
    for c in held:
        text = f"reply-{uuid.uuid4().hex[:10]}"
        requests.post(f"{base}/api/v1/conversations/{c['id']}/messages", json={"text": text},
                      headers=auth, timeout=30).raise_for_status()
        texts.append(text)
    kills = Counter()
    turn = 0
    while any(state in ("pending", "sending") for state, _ in outbox(db_url).values()):
        time.sleep(args.every)
        if sum(kills.values()) >= args.kills:
            break
        turn += 1
        alive = [w for w in workers if w.poll() is None]
        horses = [(w, h) for w in alive for h in children(w.pid)]
        if not horses:
            continue
        worker, horse = horses[turn % len(horses)]
        if turn % 2:
            kills["work horse"] += kill(horse)
        else:
            kill(horse)
            kills["worker and its horse"] += kill(worker.pid)
            worker.wait()
            workers.remove(worker)
            workers.append(start_worker())
    say(f"killed: {dict(kills)}; now waiting for the sweep to settle what they left")
    settled = time.monotonic()
    while time.monotonic() - settled < 240:
        states = outbox(db_url)
        if not any(s in ("pending", "sending") for s, _ in states.values()):
            break
        time.sleep(1)
    report(outbox(db_url), texts, fake, slots(db_url), time.monotonic() - settled)


def report(states: dict, texts: list[str], fake: CountingWeChat, spent: dict[str, int], waited: float) -> None:
    tally, wrong, dup_known = Counter(), [], 0
    for text in texts:
        state, code = states[text]
        got = fake.got[text]
        tally[state] += 1
        if state == "unknown":
            tally["unknown, WeChat got it"] += got == 1
        if got > 1 and state != "unknown":
            dup_known += 1
        if (state == "sent" and got != 1) or (state == "failed" and got) or got > 1 \
                or state in ("pending", "sending"):
            wrong.append((text, state, code, got))
    say(f"replies {len(texts)}: sent once {sum(states[t][0] == 'sent' and fake.got[t] == 1 for t in texts)}, "
        f"failed {tally['failed']}, unknown {tally['unknown']} (of which WeChat got "
        f"{tally['unknown, WeChat got it']}), wrong state {len(wrong)}; settled {waited:.0f} s after the last kill")
    say(f"duplicates at the fake API: {sum(n > 1 for n in fake.got.values())} in all, "
        f"{dup_known} for rows not marked unknown")
    over = {o: (spent.get(o, 0), n) for o, n in fake.per_shopper.items() if n > spent.get(o, 0)}
    extra = sum(spent.values()) - sum(fake.per_shopper.values())
    say(f"window slots: spent by the bridge {sum(spent.values())}, accepted by WeChat "
        f"{sum(fake.per_shopper.values())}; shoppers WeChat counted more for than the bridge "
        f"{len(over)}; slots held for unknown sends WeChat did not get {extra}")
    for text, state, code, got in wrong:
        say(f"WRONG: {text} is {state} ({code}); WeChat got it {got} times")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=40)
    parser.add_argument("--slow", type=float, default=2.0, help="seconds WeChat takes to answer a send")
    parser.add_argument("--every", type=float, default=2.5, help="seconds between kills")
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--refused", type=int, default=3)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="kefu-kill-sends-")
    redis_port = free_port()
    redis = subprocess.Popen(["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1",
                              "--save", "", "--appendonly", "no", "--dir", work], stdout=subprocess.DEVNULL)
    name = f"kefu_fault_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    db_url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    fake = CountingWeChat().start()
    fake.register_app("wx00000000000000a1", "secret-a1")
    env = app_env(db_url, f"redis://127.0.0.1:{redis_port}/0", fake.url, MEDIA_DIR=work)
    doc = shop_doc()
    doc["shops"][0]["agents"][0]["max_concurrent"] = 50
    (Path(work) / "shops.json").write_text(json.dumps(doc))
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    procs: list[subprocess.Popen] = []
    logs = (Path(work) / "processes.log").open("wb")

    def start_worker() -> subprocess.Popen:
        proc = subprocess.Popen([*flask, "worker"], cwd=ROOT, env=env, stdout=logs, stderr=logs)
        procs.append(proc)
        return proc
    try:
        subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
        subprocess.run([*flask, "shops", "load", str(Path(work) / "shops.json")], cwd=ROOT, env=env,
                       check=True, capture_output=True)
        with psycopg.connect(db_url) as conn:
            conn.execute("UPDATE shops SET settings = (settings::jsonb || %s::jsonb)::json", (json.dumps(QUIET),))
        port = free_port()
        procs.append(subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "--threads", "8",
                                       "-b", f"127.0.0.1:{port}", "--graceful-timeout", "2", "wsgi:app"],
                                      cwd=ROOT, env=env, stdout=logs, stderr=logs))
        workers = [start_worker() for _ in range(2)]
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 90
        while True:
            try:
                requests.get(base + "/hooks/none/none", timeout=10)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        token = requests.post(f"{base}/api/v1/auth/login", json={
            "shop": "acme", "username": "alice", "password": "alice-password"}, timeout=10).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        requests.patch(f"{base}/api/v1/me", json={"status": "online", "max_concurrent": 50},
                       headers=auth, timeout=10).raise_for_status()
        say(f"PostgreSQL {name}, Redis :{redis_port}, gunicorn 2x8 :{port}, 2 workers; logs in {work}")
        run(args, base, auth, db_url, fake, workers, start_worker)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        redis.kill()
        redis.wait()
        fake.stop()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
