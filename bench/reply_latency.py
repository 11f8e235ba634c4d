"""Agents' replies after a burst of new shoppers: from the reply's 201 to WeChat's receipt.

    .venv/bin/python bench/reply_latency.py [--shoppers 1700] [--before REV] [--only after]

Per tree — BEFORE (a git worktree of REV, by default the commit before the replies got a queue
of their own) and AFTER (this checkout) — in one run, one after the other, same settings: a
fresh PostgreSQL database, its own Redis db (flushed), the bench shop (tests/factories.py's
acme) loaded, gunicorn 2 × 8 threads, 2 RQ workers (`flask --app wsgi worker`) and the fake
WeChat API in this process, stamping each send as it arrives.
  1. Two agents go busy (they keep their shoppers and take none), so every new shopper queues.
  2. The burst: SHOPPERS signed pushes "转人工" from as many shoppers, 16 at a time; each
     queued shopper is sent a queue-place notice, and later ones as the queue moves.
  3. At once, each agent accepts --accept shoppers from the queue (each accept sends a
     welcome) and replies to each twice, one reply a --pace seconds; each 201's time is kept.
  4. When every reply has reached the fake (or after --timeout): per reply, the fake's
     receipt minus the 201; p50/p99/max, and the notices sent by then.
Only 127.0.0.1 is targeted; every phase is bounded in time.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run_oa import PG_ADMIN, database, flask_cli  # noqa: E402
from tests.factories import shop_doc, signed, text_xml  # noqa: E402
from tests.fake_wechat import FakeWeChat  # noqa: E402
from tests.live import free_port  # noqa: E402

SEND = "/cgi-bin/message/custom/send"
REDIS_DBS = {"before": 12, "after": 13}
AGENTS = ("alice", "bob")


def log(msg: str) -> None:
    print(f"[reply-latency {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class StampedWeChat(FakeWeChat):
    """The fake WeChat API, which notes when each call arrived."""

    def __init__(self):
        super().__init__()
        self.arrived: list[tuple[float, dict | None]] = []

    def scripted(self, call):
        if call.path == SEND:
            self.arrived.append((time.time(), call.json))
        return super().scripted(call)


def start(cmd: list[str], tree: Path, env: dict, logfile) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=tree, env=env, stdout=logfile, stderr=logfile)


def wait_up(base: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(base + "/hooks/none/none", timeout=5)
            return
        except requests.RequestException:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("gunicorn did not start")
            time.sleep(0.2)


def wait_workers(redis_url: str, count: int) -> None:
    """Until COUNT RQ workers have registered: the burst must not race their start-up."""
    import redis

    client, deadline = redis.Redis.from_url(redis_url), time.monotonic() + 60
    while client.scard("rq:workers") < count:
        if time.monotonic() > deadline:
            raise RuntimeError("the RQ workers did not start")
        time.sleep(0.2)


def queued_copies(redis_url: str) -> int:
    """Job ids queued more than once, over every RQ queue (the sweep's re-enqueues of a job
    still waiting): how many extra copies, at this moment."""
    import redis

    client = redis.Redis.from_url(redis_url)
    ids = [i for key in client.scan_iter("rq:queue:*") if client.type(key) == b"list"
           for i in client.lrange(key, 0, -1)]
    return len(ids) - len(set(ids))


def outbox(url: str) -> dict[str, int]:
    """The outbound rows by sender and delivery state, e.g. {"system/sent": 1700}."""
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT sender, delivery, count(*) FROM messages WHERE direction = 'out' "
                            "GROUP BY 1, 2 ORDER BY 1, 2").fetchall()
    return {f"{sender}/{state}": n for sender, state, n in rows}


def agent(base: str, username: str) -> requests.Session:
    http = requests.Session()
    resp = http.post(base + "/api/v1/auth/login", timeout=30,
                     json={"shop": "acme", "username": username, "password": f"{username}-password"})
    resp.raise_for_status()
    http.headers["Authorization"] = f"Bearer {resp.json()['token']}"
    http.patch(base + "/api/v1/me", json={"status": "busy", "max_concurrent": 50}, timeout=30).raise_for_status()
    return http


def burst(base: str, shoppers: int) -> int:
    def push(n: int) -> int:
        args, body = signed("acmetoken", text_xml(f"o-burst-{n:05d}", "转人工"))
        return requests.post(base + "/hooks/wechat-oa/acme-oa", params=args, data=body, timeout=60,
                             headers={"Content-Type": "text/xml"}).status_code
    with ThreadPoolExecutor(16) as pool:
        return sum(code == 200 for code in pool.map(push, range(shoppers)))


def replies(base: str, http: requests.Session, name: str, count: int, pace: float) -> dict[str, float]:
    """Accept COUNT shoppers from the queue and reply to each twice, PACE seconds apart (an
    agent types): {text: time of its 201}."""
    queued = http.get(base + "/api/v1/conversations", params={"state": "queued"}, timeout=30).json()["items"]
    done: dict[str, float] = {}
    for conversation in queued[:count]:
        url = f"{base}/api/v1/conversations/{conversation['id']}"
        if http.post(url + "/accept", timeout=30).status_code != 200:
            continue  # the other agent took it
        for n in range(2):
            text = f"{name}-{conversation['id']}-{n}"
            resp = http.post(url + "/messages", json={"type": "text", "text": text}, timeout=30)
            if resp.status_code == 201:
                done[text] = time.time()
            time.sleep(pace)
    return done


def received_texts(fake: StampedWeChat) -> set[str]:
    return {(body or {}).get("text", {}).get("content") for _, body in fake.arrived}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run_tree(label: str, tree: Path, opts: argparse.Namespace, workdir: Path) -> dict:
    fake = StampedWeChat().start()
    fake.register_app("wx00000000000000a1", "secret-a1")  # the acme-oa channel's
    redis_url = f"redis://127.0.0.1:6379/{REDIS_DBS[label]}"
    subprocess.run(["redis-cli", "-n", str(REDIS_DBS[label]), "flushdb"], check=True, capture_output=True)
    procs: list[subprocess.Popen] = []
    logfile = open(workdir / f"{label}.log", "wb")  # noqa: SIM115 — closed below
    try:
        with database("postgresql", workdir, PG_ADMIN) as url:
            env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": redis_url, "SECRET_KEY": "bench-secret",
                   "WECHAT_API_BASE": fake.url, "PYTHONPATH": str(tree)}
            shop_file = workdir / "shop.json"
            shop_file.write_text(json.dumps(shop_doc(), ensure_ascii=False), encoding="utf-8")
            flask_cli(env, "db", "upgrade", root=tree)
            flask_cli(env, "shops", "load", str(shop_file), root=tree)
            port = free_port()
            base = f"http://127.0.0.1:{port}"
            procs.append(start([sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "8",
                                "-b", f"127.0.0.1:{port}", "wsgi:app"], tree, env, logfile))
            wait_up(base, procs[0])
            for _ in range(2):
                procs.append(start([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], tree, env, logfile))
            wait_workers(redis_url, 2)
            agents = {name: agent(base, name) for name in AGENTS}
            t0 = time.time()
            answered = burst(base, opts.shoppers)
            log(f"{label}: {answered}/{opts.shoppers} pushes answered 200 in {time.time() - t0:.1f} s")
            with ThreadPoolExecutor(len(agents)) as pool:
                parts = pool.map(lambda item: replies(base, item[1], item[0], opts.accept, opts.pace), agents.items())
            posted = {k: v for part in parts for k, v in part.items()}
            deadline, copies = time.monotonic() + opts.timeout, 0
            while time.monotonic() < deadline:
                copies = max(copies, queued_copies(redis_url))
                if posted.keys() <= received_texts(fake):
                    break
                time.sleep(0.5)
            if not posted.keys() <= received_texts(fake):
                log(f"{label}: not every reply arrived; the servers' log ends:\n"
                    + (workdir / f"{label}.log").read_bytes()[-3000:].decode(errors="replace"))
            received = {}
            for at, body in fake.arrived:
                text = (body or {}).get("text", {}).get("content")
                if text in posted and text not in received:
                    received[text] = at
            latencies = [received[t] - posted[t] for t in received]
            notices = sum(1 for _, b in fake.arrived if (b or {}).get("text", {}).get("content") not in posted)
            figures = {"tree": label, "pushes": opts.shoppers, "answered": answered, "replies": len(posted),
                       "replies_received": len(received), "notices_sent": notices,
                       "extra_copies_queued": copies,
                       "p50_s": round(statistics.median(latencies), 2) if latencies else None,
                       "p99_s": round(percentile(latencies, 0.99), 2) if latencies else None,
                       "max_s": round(max(latencies), 2) if latencies else None}
            log(f"{label}: {figures}; outbox {outbox(url)}")
            return figures
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        logfile.close()
        fake.stop()
        subprocess.run(["redis-cli", "-n", str(REDIS_DBS[label]), "flushdb"], check=False, capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shoppers", type=int, default=1700)
    parser.add_argument("--accept", type=int, default=25, help="shoppers each agent accepts and answers")
    parser.add_argument("--pace", type=float, default=1.0, help="seconds between an agent's replies")
    parser.add_argument("--timeout", type=float, default=600, help="seconds to wait for the replies")
    parser.add_argument("--before", default=None, help="the revision to compare (default: the one "
                        "before the commit that gave replies their own queue)")
    parser.add_argument("--only", choices=("before", "after"))
    opts = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="reply-latency-") as tmp:
        workdir = Path(tmp)
        if opts.only != "after":
            rev = opts.before or subprocess.run(
                ["git", "log", "-1", "--format=%H^", "--grep=Agents' replies get their own RQ queue"],
                cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()
            before = workdir / "before"
            subprocess.run(["git", "worktree", "add", "--detach", str(before), rev], cwd=ROOT, check=True,
                           capture_output=True)
            try:
                results.append(run_tree("before", before, opts, workdir))
            finally:
                subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, check=False, capture_output=True)
        if opts.only != "before":
            results.append(run_tree("after", ROOT, opts, workdir))
    keys = ("tree", "answered", "replies", "replies_received", "notices_sent", "extra_copies_queued",
            "p50_s", "p99_s", "max_s")
    print("| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for r in results:
        print("| " + " | ".join(str(r[k]) for k in keys) + " |")


if __name__ == "__main__":
    main()
