"""Thousands of open shop-page widgets (issue 13, point 7): 2,000 idle SSE streams on one gevent
worker while agents reply at a steady rate; each reply timed from its 201 to its arrival in
the shopper's stream, and what the servers hold in memory.

    .venv/bin/python bench/widget_streams.py [--streams 2000] [--rate 50] [--seconds 30] [--workers 2]
                                             [--compare-seconds 15] [--json out.json]

Real parts, production layout (README, "Production"): a fresh PostgreSQL database (dropped
after), Redis db 14 (flushed before and after), one shop with one widget channel and --agents
agents of max_concurrent 50 (40 × 50 = 2,000 conversations) loaded by `flask --app wsgi shops
load` after `flask --app wsgi db upgrade`; the web (`gunicorn -w 2 -k gthread --threads 8`:
the widget's API and the agents' API), the widget's streams apart (`gunicorn -w 1 -k gevent
--worker-connections 4000`: only GET /widget/<key>/events is sent there) and --workers RQ
workers (`flask --app wsgi worker`). PRESENCE_TIMEOUT_SECONDS=3600, so the agents stay present
through a long set-up.

1. Set-up. Every agent logs in (POST /api/v1/auth/login) and goes online (PATCH /api/v1/me).
   --streams visitors are made (POST /widget/<key>/visitor) and each writes 转人工 (POST
   /widget/<key>/messages with a client_id; the shop has no keyword rule and no robot, so each
   conversation is routed to an agent by the workers); then it waits until every conversation
   is active with an agent. Each visitor calls from its own loopback address (127.1.x.y): the
   widget's limits count per address, as a shop's real shoppers each have their own.
2. Streams. This process opens one GET /widget/<key>/events per visitor (Authorization:
   Bearer <its token>) on the gevent port, from an asyncio loop on plain sockets (HTTP/1.1,
   chunked), and waits for every `ready`.
3. Load. The agents reply at a steady --rate for --seconds, spread over the conversations in
   a shuffled order (each conversation gets at most one reply per pass), POST
   /api/v1/conversations/<id>/messages {"type": "text", "text": <unique marker>, "client_id":
   <marker>} on keep-alive connections, send times fixed in advance. The reply is an outbox
   row; an RQ worker's job (adapter.send) appends it to the shopper's feed in Redis, and the
   shopper's stream reads it. Per reply: its arrival in the shopper's stream minus its 201
   (both on this process's monotonic clock). Checked: every marker arrived exactly once, and
   on its own shopper's stream only.
   Measured: RSS of every server process (idle before the streams, with the streams open and
   idle, the peak during the load), CPU-seconds of each server (RQ workers with their forked
   job processes) and of this process during the load, the machine's busy cores, and the Redis
   clients connected to db 14.
4. Comparison (--compare-seconds, 0 skips it). The same streams closed and reopened on `gunicorn
   -w 1 -k gthread --threads 2100 --worker-connections 2100` (STREAMS_PER_PROCESS=2050; gthread
   too holds at most --worker-connections, 1000 by default), started only now: its RSS with
   the streams open, and the same load for --compare-seconds.

Only 127.0.0.0/8 is used; every phase is bounded in time.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import psycopg
import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.reply_latency import start, wait_up, wait_workers  # noqa: E402
from bench.run_oa import PG_ADMIN, busy_seconds, cpu_sample, database, flask_cli, stolen_seconds  # noqa: E402
from tests.live import free_port  # noqa: E402

REDIS_DB = 14  # outside the test suite's leased 1-12 (tests/conftest.py) and inbox_live's 13
HOST = "127.0.0.1"
SHOP, CHANNEL = "widget-bench", "widget-bench-web"
TARGET_P99_MS = 500
TICK = os.sysconf("SC_CLK_TCK")
# `flask --app wsgi worker` as shipped (each job in the worker process itself, RQ's SimpleWorker),
# or with RQ's forking Worker (a work horse per job, as the worker ran before), for comparison
WORKER_CMD = {"simple": ["-m", "flask", "--app", "wsgi", "worker"],
              "fork": ["-c", "import bridge.processes.worker as w; w.SteadySimpleWorker = w.SteadyWorker; "
                             "from flask.cli import main; main()", "--app", "wsgi", "worker"]}


def say(msg: str) -> None:
    print(f"[widget-streams {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def password(username: str) -> str:
    return f"{username}-password"


def shop_file(agents: int) -> dict:
    return {"shops": [{
        "key": SHOP, "name": "网页客服压测店",
        "settings": {"routing": "least_load", "robot_first": False, "customer_idle_minutes": 0,
                     "agent_reply_timeout_minutes": 0, "rating_on_end": False},
        "channels": [{"kind": "widget", "key": CHANNEL, "secret": "widget-bench-secret-0123456789abcdef",
                      "require_identity": False, "allowed_origins": []}],
        "agents": [{"username": f"w{n:02d}", "password": password(f"w{n:02d}"), "name": f"客服{n:02d}",
                    "max_concurrent": 50} for n in range(agents)]}]}


def address(n: int) -> str:
    """Visitor N's own loopback address."""
    return f"127.1.{n // 250}.{n % 250 + 1}"


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


# -- processes: memory and CPU -------------------------------------------------------------

def children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def memory(pids: dict[str, int]) -> dict[str, dict[str, float]]:
    """RSS in MB per server: the master (or the worker process) and each of its children."""
    out = {}
    for name, pid in pids.items():
        kids = children(pid)
        out[name] = {"master" if kids and "rq" not in name else "process": round(rss_mb(pid), 1),
                     **{f"child {i}": round(rss_mb(c), 1) for i, c in enumerate(kids)}}
        out[name]["total"] = round(sum(v for k, v in out[name].items()), 1)
    return out


def cpu_ticks(pid: int) -> int:
    """utime + stime + the waited-for children's (RQ's forked job processes) of PID and its tree."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return sum(int(x) for x in fields[11:15]) + sum(cpu_ticks(c) for c in children(pid))


def cpu_all(pids: dict[str, int]) -> dict[str, int]:
    own = os.times()
    return {**{k: cpu_ticks(p) for k, p in pids.items()}, "bench client": round((own.user + own.system) * TICK)}


def redis_clients(client: redis.Redis) -> dict[str, int]:
    listed = client.client_list()
    info = client.info("memory")
    return {"bench_db": sum(1 for c in listed if str(c.get("db")) == str(REDIS_DB)), "server": len(listed),
            "used_memory_mb": round(info["used_memory"] / 2 ** 20, 1)}


# -- a small HTTP/1.1 client on asyncio's sockets -----------------------------------------

class Conn:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer, self.used = reader, writer, 0

    @classmethod
    async def open(cls, port: int, local: str | None = None) -> Conn:
        reader, writer = await asyncio.open_connection(HOST, port, local_addr=(local, 0) if local else None)
        return cls(reader, writer)

    async def call(self, method: str, path: str, body: dict | None = None, token: str | None = None,
                   timeout: float = 30) -> tuple[int, dict]:
        data = json.dumps(body or {}, ensure_ascii=False).encode()
        head = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", "Content-Type: application/json",
                f"Content-Length: {len(data)}"]
        if token:
            head.append(f"Authorization: Bearer {token}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + data)
        self.used += 1
        return await asyncio.wait_for(self._response(), timeout)

    async def _response(self) -> tuple[int, dict]:
        raw = await self.reader.readuntil(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, (json.loads(body) if body and body[:1] in b"{[" else {})

    @property
    def closed(self) -> bool:
        return self.writer.is_closing()

    def close(self) -> None:
        self.writer.close()


class SSE(asyncio.Protocol):
    """One shopper's open widget: reads GET /widget/<key>/events and stamps each message's marker."""

    def __init__(self, index: int, token: str, path: str, arrivals: dict, prefix: str):
        self.index, self.token, self.path, self.arrivals, self.prefix = index, token, path, arrivals, prefix
        self.buf, self.body, self.status, self.chunked = b"", b"", None, False
        self.ready = asyncio.get_running_loop().create_future()
        self.bytes, self.events, self.closed, self.transport = 0, 0, False, None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write((f"GET {self.path} HTTP/1.1\r\nHost: {HOST}\r\nAccept: text/event-stream\r\n"
                         f"Authorization: Bearer {self.token}\r\n\r\n").encode())

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.bytes += len(data)
        self.buf += data
        if self.status is None:
            if b"\r\n\r\n" not in self.buf:
                return
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            lines = head.decode("latin-1").split("\r\n")
            self.status = int(lines[0].split()[1])
            self.chunked = any(line.lower().replace(" ", "") == "transfer-encoding:chunked" for line in lines)
            if self.status != 200 and not self.ready.done():
                self.ready.set_exception(RuntimeError(f"stream {self.index}: {lines[0]} {self.buf[:300]!r}"))
        if self.chunked:
            while True:
                line_end = self.buf.find(b"\r\n")
                if line_end < 0:
                    break
                size = int(self.buf[:line_end].split(b";")[0], 16)
                if len(self.buf) < line_end + 2 + size + 2:
                    break
                self.body += self.buf[line_end + 2:line_end + 2 + size]
                self.buf = self.buf[line_end + 2 + size + 2:]
        else:
            self.body, self.buf = self.body + self.buf, b""
        while b"\n\n" in self.body:
            frame, self.body = self.body.split(b"\n\n", 1)
            self._frame(frame.decode(), now)

    def _frame(self, frame: str, now: float) -> None:
        fields = {}
        for line in frame.split("\n"):
            key, _, value = line.partition(": ")
            if key in ("event", "data", "id"):
                fields[key] = value
        event = fields.get("event")
        if event in ("ready", "reset") and not self.ready.done():
            self.ready.set_result(now)
        elif event == "message":
            self.events += 1
            text = json.loads(fields.get("data", "{}")).get("text") or ""
            if text.startswith(self.prefix):
                self.arrivals.setdefault(text, []).append((now, self.index))

    def connection_lost(self, exc) -> None:
        self.closed = True
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(f"stream {self.index} closed before ready"))


async def open_streams(port: int, visitors: list[dict], arrivals: dict, prefix: str,
                       timeout: float = 120) -> list[SSE]:
    loop, streams, gate = asyncio.get_running_loop(), [], asyncio.Semaphore(100)
    path = f"/widget/{CHANNEL}/events"

    async def one(n: int, v: dict) -> None:
        async with gate:
            _, proto = await loop.create_connection(lambda: SSE(n, v["token"], path, arrivals, prefix), HOST, port,
                                                    local_addr=(address(n), 0))
            streams.append(proto)
            await asyncio.wait_for(asyncio.shield(proto.ready), timeout)

    await asyncio.wait_for(asyncio.gather(*(one(n, v) for n, v in enumerate(visitors))), timeout)
    return streams


def close_streams(streams: list[SSE]) -> None:
    for s in streams:
        if s.transport:
            s.transport.close()


# -- set-up --------------------------------------------------------------------------------

def agents_online(web: str, count: int) -> dict[str, str]:
    tokens = {}
    for n in range(count):
        name = f"w{n:02d}"
        resp = requests.post(web + "/api/v1/auth/login", timeout=30,
                             json={"shop": SHOP, "username": name, "password": password(name)})
        resp.raise_for_status()
        tokens[name] = resp.json()["token"]
        requests.patch(web + "/api/v1/me", json={"status": "online"}, timeout=30,
                       headers={"Authorization": f"Bearer {tokens[name]}"}).raise_for_status()
    return tokens


async def make_visitors(port: int, count: int, concurrency: int = 16) -> list[dict]:
    """COUNT visitors, each from its own address, each writing 转人工 once."""
    gate, out = asyncio.Semaphore(concurrency), [None] * count

    async def one(n: int) -> None:
        async with gate:
            conn = await Conn.open(port, address(n))
            try:
                status, got = await conn.call("POST", f"/widget/{CHANNEL}/visitor", {})
                if status != 200:
                    raise RuntimeError(f"visitor {n}: {status} {got}")
                token, visitor = got["token"], got["visitor"]
                if conn.closed:
                    conn = await Conn.open(port, address(n))
                status, got = await conn.call("POST", f"/widget/{CHANNEL}/messages",
                                              {"client_id": f"bench-first-{n:06d}", "text": "转人工"}, token)
                if status != 201:
                    raise RuntimeError(f"visitor {n}'s message: {status} {got}")
                out[n] = {"token": token, "visitor": visitor}
            finally:
                conn.close()

    await asyncio.gather(*(one(n) for n in range(count)))
    return out


def states(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT state, count(*) FROM conversations GROUP BY 1").fetchall())


def wait_assigned(url: str, count: int, timeout: float) -> dict[str, int]:
    deadline, seen = time.monotonic() + timeout, {}
    while time.monotonic() < deadline:
        seen = states(url)
        if seen.get("active", 0) >= count:
            return seen
        time.sleep(1)
    raise RuntimeError(f"not every conversation was assigned within {timeout} s: {seen}")


async def queues_drained(rc: redis.Redis, timeout: float) -> float:
    """Seconds until every RQ queue is empty and no job runs (set-up's welcome notices)."""
    t = time.monotonic()
    while time.monotonic() - t < timeout:
        waiting = sum(rc.llen(k) for k in rc.scan_iter("rq:queue:*") if rc.type(k) == b"list")
        running = sum(rc.zcard(k) for k in rc.scan_iter("rq:wip:*"))
        if not waiting and not running:
            return round(time.monotonic() - t, 1)
        await asyncio.sleep(1)
    raise RuntimeError(f"the RQ queues did not drain within {timeout} s")


def conversations(url: str, visitors: list[dict]) -> list[tuple[int, int, str]]:
    """(conversation id, visitor index, agent username) of every active conversation."""
    index = {v["visitor"]: n for n, v in enumerate(visitors)}
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT c.id, cu.external_id, a.username FROM conversations c "
                            "JOIN customers cu ON cu.id = c.customer_id JOIN agents a ON a.id = c.agent_id "
                            "WHERE c.state = 'active' ORDER BY c.id").fetchall()
    return [(cid, index[ext], agent) for cid, ext, agent in rows]


# -- the load ------------------------------------------------------------------------------

async def reply_load(port: int, convs: list[tuple[int, int, str]], tokens: dict[str, str], rate: float,
                     seconds: float, prefix: str, seed: int, most: int = 64) -> list[dict]:
    """Replies at RATE for SECONDS, due times fixed in advance; each: marker, visitor, due, 201 time."""
    order = convs[:]
    random.Random(seed).shuffle(order)
    total = int(rate * seconds)
    idle: list[Conn] = []
    gate = asyncio.Semaphore(most)
    replies: list[dict] = []

    async def one(i: int, due: float) -> None:
        cid, visitor, agent = order[i % len(order)]
        marker = f"{prefix}{i:06d}"
        rec = {"marker": marker, "visitor": visitor, "due": due, "status": None}
        replies.append(rec)
        async with gate:
            rec["sent"] = time.monotonic()
            for attempt in range(3):  # a kept-alive connection the server closed meanwhile: the client_id makes a retry safe
                conn = idle.pop() if idle and attempt == 0 else await Conn.open(port)
                try:
                    status, got = await conn.call("POST", f"/api/v1/conversations/{cid}/messages",
                                                  {"type": "text", "text": marker, "client_id": marker}, tokens[agent])
                except (asyncio.IncompleteReadError, ConnectionError, OSError):
                    conn.close()
                    continue
                rec["answered"], rec["status"] = time.monotonic(), status
                if not conn.closed:
                    idle.append(conn)
                break

    loop_start = time.monotonic() + 0.5
    tasks = []
    for i in range(total):
        due = loop_start + i / rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, due)))
    await asyncio.gather(*tasks)
    for conn in idle:
        conn.close()
    return replies


async def measure_load(label: str, port: int, streams: list[SSE], arrivals: dict, convs, tokens, pids: dict,
                       rc: redis.Redis, opts: argparse.Namespace, seconds: float, prefix: str) -> dict:
    peak: dict = {}
    stop = asyncio.Event()

    async def sampler() -> None:
        while not stop.is_set():
            for name, got in memory(pids).items():
                for k, v in got.items():
                    peak.setdefault(name, {})[k] = max(v, peak.get(name, {}).get(k, 0))
            try:
                await asyncio.wait_for(stop.wait(), 1)
            except asyncio.TimeoutError:
                pass

    redis_before = redis_clients(rc)
    cpu0, ticks0, t0 = cpu_sample(), cpu_all(pids), time.monotonic()
    sampling = asyncio.create_task(sampler())
    say(f"{label}: replying at {opts.rate}/s for {seconds} s")
    replies = await reply_load(port, convs, tokens, opts.rate, seconds, prefix, opts.seed)
    t1, cpu1, ticks1 = time.monotonic(), cpu_sample(), cpu_all(pids)
    redis_during = redis_clients(rc)
    ok = [r for r in replies if r["status"] == 201]
    deadline = time.monotonic() + opts.drain
    while time.monotonic() < deadline and not all(r["marker"] in arrivals for r in ok):
        await asyncio.sleep(0.2)
    t2, ticks2 = time.monotonic(), cpu_all(pids)
    stop.set()
    await sampling
    delays, once, twice, wrong = [], 0, 0, 0
    for r in ok:
        got = arrivals.get(r["marker"], [])
        if len(got) == 1:
            once += 1
        elif len(got) > 1:
            twice += 1
        wrong += sum(1 for _, idx in got if idx != r["visitor"])
        if got:
            delays.append((got[0][0] - r["answered"]) * 1000)
    elapsed = t1 - t0
    statuses: dict[str, int] = {}
    for r in replies:
        statuses[str(r["status"])] = statuses.get(str(r["status"]), 0) + 1
    return {
        "replies": len(replies), "statuses": statuses, "rate_sent": round(len(replies) / (replies[-1]["due"] - replies[0]["due"] + 1 / opts.rate), 1),
        "answer_p50_ms": pct([(r["answered"] - r["sent"]) * 1000 for r in ok], 0.5),
        "answer_p99_ms": pct([(r["answered"] - r["sent"]) * 1000 for r in ok], 0.99),
        "send_lag_p99_ms": pct([(r["sent"] - r["due"]) * 1000 for r in replies], 0.99),
        "arrived": len(delays), "arrived_once": once, "arrived_more_than_once": twice,
        "arrived_on_another_stream": wrong, "never_arrived": len(ok) - len(delays),
        "p50_ms": pct(delays, 0.5), "p90_ms": pct(delays, 0.9), "p99_ms": pct(delays, 0.99),
        "max_ms": round(max(delays), 1) if delays else None, "min_ms": round(min(delays), 1) if delays else None,
        "streams_open_after": sum(1 for s in streams if not s.closed),
        "cores_busy": round(busy_seconds(cpu0, cpu1) / elapsed, 2),
        "cores_stolen": round(stolen_seconds(cpu0, cpu1) / elapsed, 2),
        "cpu_s": {k: round((ticks1[k] - ticks0[k]) / TICK, 2) for k in ticks0}, "seconds": round(elapsed, 1),
        "cpu_s_until_drained": {k: round((ticks2[k] - ticks0[k]) / TICK, 2) for k in ticks0},
        "drained_s_after_last_send": round(t2 - t1, 1),
        "rss_peak_mb": peak, "redis_before": redis_before, "redis_during": redis_during,
    }


# -- the run -------------------------------------------------------------------------------

async def run(opts: argparse.Namespace, env: dict, url: str, stack: ExitStack, logfile, procs: dict) -> dict:
    figures: dict = {}
    web_port, streams_port = free_port(), free_port()
    procs["web"] = start([sys.executable, "-m", "gunicorn", "-w", "2", "-k", "gthread", "--threads", "8",
                          "-b", f"{HOST}:{web_port}", "wsgi:app"], opts.root, env, logfile)
    procs["streams (gevent)"] = start([sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gevent",
                                       "--worker-connections", "4000", "-b", f"{HOST}:{streams_port}", "wsgi:app"],
                                      opts.root, env, logfile)
    for n in range(opts.workers):
        procs[f"rq worker {n}"] = start([sys.executable, *WORKER_CMD[opts.rq_worker]], opts.root, env, logfile)
    web = f"http://{HOST}:{web_port}"
    wait_up(web, procs["web"])
    wait_up(f"http://{HOST}:{streams_port}", procs["streams (gevent)"])
    wait_workers(env["REDIS_URL"], opts.workers)
    pids = {k: p.pid for k, p in procs.items()}
    rc = redis.Redis.from_url(env["REDIS_URL"])

    tokens = agents_online(web, opts.agents)
    say(f"{len(tokens)} agents online; making {opts.streams} visitors")
    t = time.monotonic()
    visitors = await make_visitors(web_port, opts.streams)
    figures["setup"] = {"visitors_s": round(time.monotonic() - t, 1)}
    figures["setup"]["states"] = wait_assigned(url, opts.streams, opts.setup_timeout)
    figures["setup"]["assigned_s"] = round(time.monotonic() - t, 1)
    convs = conversations(url, visitors)
    say(f"{len(convs)} conversations active after {figures['setup']['assigned_s']} s: {figures['setup']['states']}")
    figures["setup"]["jobs_drained_s"] = await queues_drained(rc, opts.setup_timeout)  # the welcome notices
    figures["rss_idle_no_streams_mb"] = memory(pids)
    figures["redis_no_streams"] = redis_clients(rc)

    arrivals: dict = {}
    t = time.monotonic()
    streams = await open_streams(streams_port, visitors, arrivals, "wsb-")
    figures["streams_opened_s"] = round(time.monotonic() - t, 1)
    await asyncio.sleep(3)
    figures["rss_streams_idle_mb"] = memory(pids)
    figures["redis_streams_idle"] = redis_clients(rc)
    say(f"{len(streams)} streams open on gevent in {figures['streams_opened_s']} s; "
        f"stream worker RSS {figures['rss_streams_idle_mb']['streams (gevent)']}")
    figures["gevent"] = await measure_load("gevent", web_port, streams, arrivals, convs, tokens, pids, rc, opts,
                                           opts.seconds, "wsb-g")
    say(json.dumps(figures["gevent"], ensure_ascii=False))
    close_streams(streams)

    if opts.compare_seconds > 0:
        compare_port = free_port()
        procs["streams (gthread 2100)"] = start(
            [sys.executable, "-m", "gunicorn", "-w", "1", "-k", "gthread", "--threads", "2100",
             "--worker-connections", "2100", "-b", f"{HOST}:{compare_port}", "wsgi:app"], opts.root, {**env, "STREAMS_PER_PROCESS": "2050"}, logfile)
        wait_up(f"http://{HOST}:{compare_port}", procs["streams (gthread 2100)"])
        await asyncio.sleep(3)  # the gevent streams' slots given back
        pids = {k: p.pid for k, p in procs.items()}
        figures["rss_gthread_no_streams_mb"] = memory(pids)["streams (gthread 2100)"]
        t = time.monotonic()
        streams = await open_streams(compare_port, visitors, arrivals, "wsb-")
        figures["gthread_streams_opened_s"] = round(time.monotonic() - t, 1)
        await asyncio.sleep(3)
        figures["rss_gthread_streams_idle_mb"] = memory(pids)["streams (gthread 2100)"]
        say(f"{len(streams)} streams open on gthread; its RSS {figures['rss_gthread_streams_idle_mb']}")
        figures["gthread"] = await measure_load("gthread", web_port, streams, arrivals, convs, tokens, pids, rc, opts,
                                                opts.compare_seconds, "wsb-t")
        say(json.dumps(figures["gthread"], ensure_ascii=False))
        close_streams(streams)
    figures["client_note"] = "one asyncio process reads every stream and sends every reply"
    return figures


def stop(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        proc.terminate()
    for proc in procs.values():
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--streams", type=int, default=2000, help="open widgets (visitors, conversations)")
    parser.add_argument("--rate", type=float, default=50, help="agents' replies a second")
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2, help="RQ workers")
    parser.add_argument("--rq-worker", choices=sorted(WORKER_CMD), default="simple",
                        help="fork: `flask --app wsgi worker` as shipped; simple: the same on RQ's SimpleWorker")
    parser.add_argument("--agents", type=int, default=40, help="agents, max_concurrent 50 each")
    parser.add_argument("--compare-seconds", type=float, default=15,
                        help="the same streams on gthread --threads 2100, loaded this long (0: skip)")
    parser.add_argument("--drain", type=float, default=60, help="seconds to wait for the last replies")
    parser.add_argument("--setup-timeout", type=float, default=600, help="seconds for every conversation's assignment")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--root", type=Path, default=ROOT, help="the tree whose app runs (e.g. a git worktree)")
    opts = parser.parse_args()
    if opts.agents * 50 < opts.streams:
        parser.error("--agents × 50 must be at least --streams")
    redis_url = f"redis://{HOST}:6379/{REDIS_DB}"
    subprocess.run(["redis-cli", "-n", str(REDIS_DB), "flushdb"], check=True, capture_output=True)
    with tempfile.TemporaryDirectory(prefix="widget-streams-") as tmp, ExitStack() as stack:
        stack.callback(subprocess.run, ["redis-cli", "-n", str(REDIS_DB), "flushdb"], check=False,
                       capture_output=True)
        workdir = Path(tmp)
        url = stack.enter_context(database("postgresql", workdir, PG_ADMIN))
        env = {**os.environ, "PYTHONPATH": str(opts.root), "DATABASE_URL": url, "REDIS_URL": redis_url,
               "SECRET_KEY": "bench-secret", "LOG_LEVEL": "WARNING", "PRESENCE_TIMEOUT_SECONDS": "3600",
               "MEDIA_DIR": str(workdir / "media")}
        shop = workdir / "shop.json"
        shop.write_text(json.dumps(shop_file(opts.agents), ensure_ascii=False), encoding="utf-8")
        flask_cli(env, "db", "upgrade", root=opts.root)
        flask_cli(env, "shops", "load", str(shop), root=opts.root)
        logfile = stack.enter_context(open(workdir / "servers.log", "wb"))
        procs: dict[str, subprocess.Popen] = {}
        stack.callback(stop, procs)
        try:
            figures = asyncio.run(run(opts, env, url, stack, logfile, procs))
        finally:
            kept = Path(tempfile.gettempdir()) / "widget-streams-servers.log"
            logfile.flush()
            kept.write_bytes((workdir / "servers.log").read_bytes())
            say(f"the servers' log is kept in {kept}")
        figures["opts"] = {k: str(v) if isinstance(v, Path) else v for k, v in vars(opts).items()}
        figures["commit"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=opts.root, capture_output=True,
                                           text=True, check=False).stdout.strip()
    subprocess.run(["redis-cli", "-n", str(REDIS_DB), "flushdb"], check=False, capture_output=True)
    report(figures)
    if opts.json:
        opts.json.write_text(json.dumps(figures, ensure_ascii=False, indent=1), encoding="utf-8")


def report(f: dict) -> None:
    print(f"\nset-up: {f['setup']}; streams opened in {f['streams_opened_s']} s")
    for label in ("gevent", "gthread"):
        if label not in f:
            continue
        a = f[label]
        verdict = "met" if (a["p99_ms"] or 1e9) <= TARGET_P99_MS else "MISSED"
        print(f"\n{label}: {a['replies']} replies at {a['rate_sent']}/s, statuses {a['statuses']}, "
              f"201 in p50 {a['answer_p50_ms']} ms p99 {a['answer_p99_ms']} ms, send lag p99 {a['send_lag_p99_ms']} ms")
        print(f"   201 → shopper's stream: p50 {a['p50_ms']} p90 {a['p90_ms']} p99 {a['p99_ms']} "
              f"(target ≤ {TARGET_P99_MS}: {verdict}) max {a['max_ms']} min {a['min_ms']} ms")
        print(f"   arrived {a['arrived']} (once {a['arrived_once']}, more than once {a['arrived_more_than_once']}, "
              f"on another stream {a['arrived_on_another_stream']}), never {a['never_arrived']}; "
              f"streams still open {a['streams_open_after']}")
        print(f"   cores busy {a['cores_busy']} (stolen {a['cores_stolen']}) over {a['seconds']} s; CPU-s {a['cpu_s']}")
        workers = sum(v for k, v in a["cpu_s_until_drained"].items() if k.startswith("rq worker"))
        print(f"   until the last arrival ({a['drained_s_after_last_send']} s after the last send): CPU-s "
              f"{a['cpu_s_until_drained']}; RQ workers {1000 * workers / max(1, a['arrived']):.1f} ms per reply")
        print(f"   RSS peak MB {a['rss_peak_mb']}")
        print(f"   Redis clients before {a['redis_before']} during {a['redis_during']}")
    print(f"\nRSS MB, no streams: {f['rss_idle_no_streams_mb']}\nRSS MB, streams open, idle: {f['rss_streams_idle_mb']}")
    if "rss_gthread_streams_idle_mb" in f:
        print(f"gthread 2100: no streams {f['rss_gthread_no_streams_mb']}, streams open {f['rss_gthread_streams_idle_mb']}")
    print(f"Redis: no streams {f['redis_no_streams']}, streams idle {f['redis_streams_idle']}")


if __name__ == "__main__":
    main()
