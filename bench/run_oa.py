"""The OA webhook benchmark: the full path against a bare `success` endpoint (bench/README.md).

    .venv/bin/python bench/run_oa.py [--seconds 15] [--backends sqlite,postgresql]

Per backend: a fresh database (SQLite file in a temp dir / a new PostgreSQL database,
dropped after), `flask --app wsgi db upgrade`, `flask --app wsgi shops load` of the bench
shop, then with identical gunicorn settings:
  1. closed loop, wrk: the bare app, then the full app (same connections, same duration);
  2. open loop at half the full app's measured capacity: p50/p99 from the scheduled times;
  3. (unless --no-safe) closed loop on the safe-mode (AES) channel, full app only;
and after a graceful gunicorn stop, the stored inbound messages against the pushes sent.
Only 127.0.0.1 is ever targeted; every phase is bounded in time and in requests.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from urllib.parse import urlencode
import uuid
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import openloop, proccpu, workload  # noqa: E402
from adapters.wechat.signature import url_signature  # noqa: E402
from tests.factories import signed, text_xml  # noqa: E402  (pushes signed as in the tests)

HOST = "127.0.0.1"
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"
LUA = Path(__file__).resolve().parent / "oa.lua"
OPENIDS = 4999  # per wrk thread; odd, so each openid gets both hit and miss texts in turn
TARGETS = {"sqlite": 0.4, "postgresql": 0.3}
P99_TARGET_MS = 50.0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- the machine ------------------------------------------------------------------------

def cpu_sample() -> tuple[int, int, int]:
    """(all jiffies, idle jiffies, stolen jiffies) summed over the cores, from /proc/stat.

    Steal is time the hypervisor ran something else on our virtual cores: neither our work
    nor idle. On a shared host it comes and goes, and it slows whatever runs meanwhile."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    steal = fields[7] if len(fields) > 7 else 0
    return sum(fields), fields[3] + fields[4], steal  # idle + iowait


def busy_seconds(before: tuple[int, int, int], after: tuple[int, int, int]) -> float:
    """CPU-seconds all cores spent busy on this machine's own work between two samples."""
    busy = (after[0] - after[1] - after[2]) - (before[0] - before[1] - before[2])
    return busy / os.sysconf("SC_CLK_TCK")


def stolen_seconds(before: tuple[int, int, int], after: tuple[int, int, int]) -> float:
    return (after[2] - before[2]) / os.sysconf("SC_CLK_TCK")


def cpu_busy(seconds: float = 1.0) -> float:
    """Fraction of all cores busy (or stolen) over SECONDS, while the benchmark itself is idle."""
    try:
        t0, i0, _ = cpu_sample()
        time.sleep(seconds)
        t1, i1, _ = cpu_sample()
    except OSError:
        return float("nan")
    return 1 - (i1 - i0) / max(1, t1 - t0)


def wait_quiet(limit: float, threshold: float = 0.15) -> float:
    """Wait up to LIMIT seconds for other work on the machine to calm down; the last reading."""
    deadline = time.monotonic() + limit
    busy = cpu_busy()
    while busy > threshold and time.monotonic() < deadline:
        busy = cpu_busy(2.0)
    return busy


# -- databases ---------------------------------------------------------------------------

@contextlib.contextmanager
def database(backend: str, workdir: Path, pg_admin: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / 'bench.sqlite3'}"
        return
    import psycopg

    name = f"kefu_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield pg_admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(pg_admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        log(f"dropped database {name}")


def flush_redis() -> None:
    """Redis db 14 is the benchmark's: live events and never-run dispatch jobs land there."""
    import redis

    redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5).flushdb()


def app_env(db_url: str, root: Path = ROOT) -> dict[str, str]:
    """The environment of the app in the tree ROOT (another tree: an earlier commit's worktree)."""
    env = dict(os.environ)
    env.update(DATABASE_URL=db_url, SECRET_KEY="bench-" + secrets.token_hex(16),
               REDIS_URL=REDIS_URL, PYTHONPATH=str(root))
    return env


def flask_cli(env: dict[str, str], *args: str, root: Path = ROOT) -> None:
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", *args], cwd=root,
                         env=env, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"flask {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}")


def stored_counts(db_url: str) -> dict[str, int]:
    from sqlalchemy import create_engine, text

    from bridge.config import normalize_database_url

    engine = create_engine(normalize_database_url(db_url))
    with engine.connect() as conn:
        one = lambda sql: conn.execute(text(sql)).scalar_one()  # noqa: E731
        counts = {
            "inbound": one("SELECT count(*) FROM messages WHERE direction = 'in'"),
            "bot_replies": one("SELECT count(*) FROM messages WHERE sender = 'bot'"),
            "receipts": one("SELECT count(*) FROM inbound_receipts"),
            "customers": one("SELECT count(*) FROM customers"),
            "conversations": one("SELECT count(*) FROM conversations"),
        }
        # MsgIds are PHASE * 10**12 + …: the first digit tells the phase (see run_backend)
        rows = conn.execute(text(
            "SELECT substr(external_id, 1, 1), count(*) FROM inbound_receipts GROUP BY 1")).all()
        counts["by_phase"] = {int(k): v for k, v in rows}
    engine.dispose()
    return counts


# -- gunicorn ----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """One gunicorn master we started; stopped by its own pid, gracefully (SIGTERM)."""

    def __init__(self, app: str, env: dict[str, str], opts: argparse.Namespace, logfile: Path,
                 root: Path = ROOT):
        self.port = free_port()
        self.logfile = logfile
        self.cmd = [sys.executable, "-m", "gunicorn", "--chdir", str(root),
                    "--bind", f"{HOST}:{self.port}", *gunicorn_settings(opts),
                    "--log-level", "warning", app]
        self._log = open(logfile, "wb")
        self.proc = subprocess.Popen(self.cmd, cwd=root, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.logfile.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"http://{HOST}:{self.port}/hooks/wechat-oa/ready", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # any HTTP answer means a worker is serving
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer within 30 s")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # graceful: in-flight requests finish
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def gunicorn_settings(opts: argparse.Namespace) -> list[str]:
    out = ["--workers", str(opts.workers), "--worker-class", opts.worker_class]
    if opts.worker_class == "gthread":
        out += ["--threads", str(opts.threads)]
    return out


def start_py_spy(server: Server, opts: argparse.Namespace, backend: str) -> list[tuple]:
    """py-spy record on each worker of SERVER for the closed loop (--py-spy DIR)."""
    if not opts.py_spy:
        return []
    opts.py_spy.mkdir(parents=True, exist_ok=True)
    workers = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children").read_text().split()
    spies = []
    for pid in workers:
        out = opts.py_spy / f"{backend}-worker-{pid}.txt"
        cmd = [opts.py_spy_bin, "record", "--pid", pid, "--duration", str(2 * opts.seconds + 2),  # all rounds, bare ones too: idle is not sampled
               "--rate", "200", "--format", "raw", "--nonblocking", "--output", str(out)]
        spies.append((subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL), out))
    return spies


def finish_py_spy(spies: list[tuple]) -> str:
    from bench.pyspy_summary import summarize

    for proc, _ in spies:
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    files = [str(out) for _, out in spies if out.exists()]
    return summarize(files, 45) if files else "py-spy wrote nothing (ptrace not allowed?)"


# -- load --------------------------------------------------------------------------------

def plain_path(channel: dict, now: int | None = None) -> str:
    ts = str(now or int(time.time()))
    nonce = str(secrets.randbelow(10**9))
    sig = url_signature(channel["token"], ts, nonce)
    return f"/hooks/wechat-oa/{channel['key']}?signature={sig}&timestamp={ts}&nonce={nonce}&openid=x"


def wrk(port: int, seconds: float, opts: argparse.Namespace, env_extra: dict[str, str]) -> dict:
    cmd = [opts.wrk, f"-t{opts.wrk_threads}", f"-c{opts.connections}", f"-d{seconds}s",
           "--timeout", "10s", "-s", str(LUA), f"http://{HOST}:{port}/"]
    env = dict(os.environ, BENCH_THREADS=str(opts.wrk_threads), **env_extra)
    before, procs = cpu_sample(), proccpu.snapshot()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    after = cpu_sample()
    cpu, stolen = busy_seconds(before, after), stolen_seconds(before, after)
    by_process = proccpu.split(procs, proccpu.snapshot())
    for line in out.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            stats = json.loads(line[len("BENCHJSON "):])
            stats["rps"] = stats["completed"] / (stats["duration_us"] / 1e6)
            # the whole machine's busy CPU per request: server, database, Redis and wrk alike
            stats["cpu_ms_per_request"] = cpu / max(1, stats["completed"]) * 1e3
            stats["cpu_cores_busy"] = cpu / (stats["duration_us"] / 1e6)
            stats["cores_stolen"] = stolen / (stats["duration_us"] / 1e6)
            stats["errors"] = sum(v for k, v in stats.items() if k.startswith("err_"))
            stats["cpu_ms_by_process"] = {name: secs / max(1, stats["completed"]) * 1e3
                                          for name, secs in by_process.items()}
            stats["cpu_seconds"], stats["stolen_seconds"] = cpu, stolen
            stats["process_seconds"] = by_process
            return stats
    raise RuntimeError(f"wrk printed no summary:\n{out.stdout}\n{out.stderr}")


def plain_load(opts, workdir: Path, texts_file: Path, port: int, seconds: float,
               msgid_base: int, tag: str) -> dict:
    return wrk(port, seconds, opts, {
        "BENCH_PATH": plain_path(workload.PLAIN), "BENCH_TEXTS": str(texts_file),
        "BENCH_MSGID_BASE": str(msgid_base), "BENCH_OPENIDS": str(OPENIDS), "BENCH_TAG": tag,
        "BENCH_POOL": "",
    })


def merge_rounds(rounds: list[dict]) -> dict:
    """One app's closed-loop rounds as one: counts summed, rates over the summed duration,
    the median round's p50 and the worst round's p99."""
    out = {k: sum(r[k] for r in rounds) for k in rounds[0]
           if isinstance(rounds[0][k], int) and not k.endswith("_us") or k == "duration_us"}
    seconds = out["duration_us"] / 1e6
    cpu = sum(r["cpu_seconds"] for r in rounds)
    by_process: dict[str, float] = {}
    for r in rounds:
        for name, secs in r["process_seconds"].items():
            by_process[name] = by_process.get(name, 0.0) + secs
    out.update(
        rps=out["completed"] / seconds, rounds=[round(r["rps"]) for r in rounds],
        p50_us=sorted(r["p50_us"] for r in rounds)[len(rounds) // 2],
        p99_us=max(r["p99_us"] for r in rounds),
        cpu_ms_per_request=cpu / max(1, out["completed"]) * 1e3, cpu_cores_busy=cpu / seconds,
        cores_stolen=sum(r["stolen_seconds"] for r in rounds) / seconds,
        cpu_ms_by_process={name: secs / max(1, out["completed"]) * 1e3
                           for name, secs in sorted(by_process.items(), key=lambda kv: -kv[1])},
    )
    return out


def safe_pool(path: Path, texts: list[str], count: int, msgid_base: int) -> None:
    """COUNT safe-mode pushes, each encrypted and signed as WeChat does (one line each)."""
    ch = workload.SAFE
    now = int(time.time())
    with open(path, "w", encoding="utf-8") as f:
        for i in range(count):
            plain = text_xml(f"osafe_{i % OPENIDS}", texts[i % len(texts)], msgid_base + i, now)
            args, body = signed(ch["token"], plain, "safe", ch["encoding_aes_key"], ch["app_id"], now=now)
            f.write(f"/hooks/wechat-oa/{ch['key']}?{urlencode(args)}\t{body.decode()}\n")


def open_loop(port: int, rate: float, seconds: float, texts: list[str], msgid_base: int) -> openloop.Result:
    path = plain_path(workload.PLAIN)
    created = int(time.time())

    def make(i: int) -> bytes:
        body = text_xml(f"oc0_{i % OPENIDS}", texts[i % len(texts)], msgid_base + i, created)
        return openloop.http_post(HOST, port, path, body.encode())

    return openloop.run(HOST, port, rate, seconds, make)


# -- one backend ---------------------------------------------------------------------------

def run_backend(backend: str, opts: argparse.Namespace, workdir: Path) -> dict:
    doc = workload.shop_document()
    rules = doc["shops"][0]["auto_replies"]
    texts = [t for _, t in workload.texts(rules, 2000)]
    texts_file = workdir / "texts.txt"
    texts_file.write_text("\n".join(texts) + "\n", encoding="utf-8")
    shop_file = workdir / "bench-shop.json"
    shop_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    busy = wait_quiet(opts.wait_quiet)
    if busy > 0.15:
        log(f"{backend}: warning: the machine is {busy:.0%} busy with other work before the run; "
            f"figures will be low and noisy")
    row: dict = {"backend": backend, "busy_before": busy}
    phases: dict[int, dict] = {}  # MsgId prefix → that phase's wrk/open-loop figures
    flush_redis()
    with database(backend, workdir, opts.pg_admin) as url:
        env = app_env(url)
        log(f"{backend}: migrate, load the bench shop ({len(rules)} rules)")
        flask_cli(env, "db", "upgrade")
        flask_cli(env, "shops", "load", str(shop_file))

        bare = Server("bench.bare:app", env, opts, workdir / f"{backend}-bare.log")
        full = Server(opts.full_app, env, opts, workdir / f"{backend}-full.log")
        try:
            log(f"{backend}: warm-up 2s each: bare app, full app ({opts.full_app})")
            plain_load(opts, workdir, texts_file, bare.port, 2, 10**12, "w")
            phases[3] = plain_load(opts, workdir, texts_file, full.port, 2, 3 * 10**12, "c")
            # Closed loop: bare and full take turns, so that a change in the machine's speed
            # (steal, a neighbour) falls on both alike.
            step = max(1, opts.seconds // opts.rounds)
            log(f"{backend}: closed loop, {opts.rounds} rounds of {step}s each: bare, full, …")
            spies = start_py_spy(full, opts, backend)
            bare_rounds, full_rounds = [], []
            for n in range(opts.rounds):
                bare_rounds.append(plain_load(opts, workdir, texts_file, bare.port, step,
                                              2 * 10**12 + n * 10**10, "b"))
                full_rounds.append(plain_load(opts, workdir, texts_file, full.port, step,
                                              4 * 10**12 + n * 10**10, "c"))
            row["bare"], row["full"] = merge_rounds(bare_rounds), merge_rounds(full_rounds)
            if spies:
                row["py_spy"] = finish_py_spy(spies)
            phases[4] = row["full"]
            rate = row["full"]["rps"] / 2
            log(f"{backend}: full app, open loop at {rate:.0f} req/s for {opts.open_seconds}s")
            time.sleep(1)
            machine0, generator0 = cpu_sample(), time.process_time()
            ol = open_loop(full.port, rate, opts.open_seconds, texts, 5 * 10**12)
            generator_cpu = time.process_time() - generator0
            machine_busy = busy_seconds(machine0, cpu_sample()) / ol.elapsed if ol.elapsed else 0.0
            phases[5] = {"sent": ol.scheduled, "ok": ol.completed - ol.other,
                         "errors": ol.errors + ol.other}
            row["open"] = {"rate": rate, "scheduled": ol.scheduled, "completed": ol.completed,
                           "errors": ol.errors, "unfinished": ol.scheduled - ol.completed - ol.errors,
                           "replied": ol.replied, "unanswered": ol.unanswered, "other": ol.other,
                           "p50_ms": ol.percentile(50) * 1e3, "p90_ms": ol.percentile(90) * 1e3,
                           "p99_ms": ol.percentile(99) * 1e3, "max_ms": max(ol.latencies or [0]) * 1e3,
                           "send_lag_p99_ms": sorted(ol.send_lag)[int(len(ol.send_lag) * 0.99) - 1] * 1e3
                           if ol.send_lag else 0.0,
                           # The generator is Python and shares the 2 cores: near 2 busy, its
                           # tail is the machine's, not the app's.
                           "cores_busy": machine_busy,
                           "generator_cores": generator_cpu / ol.elapsed if ol.elapsed else 0.0,
                           "error_samples": ol.error_samples}
            # The same rate on the bare app: the latency the machine itself adds (a virtual
            # core descheduled for tens of ms shows here too), beside the full app's.
            log(f"{backend}: bare app, open loop at the same rate for {opts.open_seconds}s")
            time.sleep(1)
            ref = open_loop(bare.port, rate, opts.open_seconds, texts, 7 * 10**12)
            row["open_bare"] = {"p50_ms": ref.percentile(50) * 1e3, "p90_ms": ref.percentile(90) * 1e3,
                                "p99_ms": ref.percentile(99) * 1e3,
                                "max_ms": max(ref.latencies or [0]) * 1e3}
            if opts.safe:
                count = int(row["full"]["rps"] * opts.seconds * 1.5) + 1000
                pool = workdir / "safe-pool.txt"
                log(f"{backend}: safe-mode (AES) pool of {count}, closed loop {opts.seconds}s")
                safe_pool(pool, texts, count, 6 * 10**12)
                row["safe"] = wrk(full.port, opts.seconds, opts, {"BENCH_POOL": str(pool)})
                phases[6] = row["safe"]
            time.sleep(3)  # requests wrk left in the listen backlog are served before the stop
        finally:
            full.stop()
            bare.stop()
        row["stored"] = stored_counts(url)
    flush_redis()
    row["phases"] = {k: {"sent": v["sent"], "ok": v["ok"], "errors": v.get("errors", 0),
                         "stored": row["stored"]["by_phase"].get(k, 0)} for k, v in phases.items()}
    row["sent"] = sum(v["sent"] for v in phases.values())
    return row


# -- report ----------------------------------------------------------------------------------

def code_version() -> str:
    """The commit measured, and which code files differed from it (others edit in the tree)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "bridge", "adapters", "wsgi.py"],
                               cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    changed = [line[3:] for line in dirty if line.strip()]
    return head + (f" + uncommitted changes in {', '.join(changed)}" if changed else "")


def report(rows: list[dict], opts: argparse.Namespace) -> None:
    print()
    print(f"code: {code_version()}; {time.strftime('%Y-%m-%d %H:%M')}; {os.cpu_count()} cores; "
          f"openids per wrk thread: {OPENIDS}")
    print(f"full app: {opts.full_app}; gunicorn: {' '.join(gunicorn_settings(opts))} (bare and full alike); "
          f"wrk -t{opts.wrk_threads} -c{opts.connections} -d{opts.seconds}s; "
          f"open loop {opts.open_seconds}s at half the full app's closed-loop rps")
    head = (f"{'backend':<11}{'bare rps':>10}{'full rps':>10}{'ratio':>7}{'target':>8}"
            f"{'half rps':>10}{'p50 ms':>8}{'p99 ms':>8}{'p99≤50':>8}{'bare p99':>10}{'safe rps':>10}"
            f"{'stored/sent':>15}")
    print(head)
    print("-" * len(head))
    for r in rows:
        ratio = r["full"]["rps"] / r["bare"]["rps"]
        target = TARGETS.get(r["backend"], 0)
        o = r["open"]
        safe = f"{r['safe']['rps']:.0f}" if "safe" in r else "-"
        print(f"{r['backend']:<11}{r['bare']['rps']:>10.0f}{r['full']['rps']:>10.0f}{ratio:>7.2f}"
              f"{('≥%.1f ' % target) + ('ok' if ratio >= target else 'NO'):>8}"
              f"{o['rate']:>10.0f}{o['p50_ms']:>8.1f}{o['p99_ms']:>8.1f}"
              f"{'ok' if o['p99_ms'] <= P99_TARGET_MS else 'NO':>8}{r['open_bare']['p99_ms']:>10.1f}{safe:>10}"
              f"{r['stored']['inbound']:>8}/{r['sent']:<6}")
    print()
    for r in rows:
        b, f, o, s = r["bare"], r["full"], r["open"], r["stored"]
        print(f"{r['backend']}: (machine {r['busy_before']:.0%} busy with other work just before)")
        print(f"  closed loop latency  bare p50/p99 {b['p50_us']/1e3:.1f}/{b['p99_us']/1e3:.1f} ms, "
              f"full p50/p99 {f['p50_us']/1e3:.1f}/{f['p99_us']/1e3:.1f} ms")
        print(f"  machine CPU          bare {b['cpu_ms_per_request']:.2f} ms/request "
              f"({b['cpu_cores_busy']:.2f} of {os.cpu_count()} cores busy), full "
              f"{f['cpu_ms_per_request']:.2f} ms/request ({f['cpu_cores_busy']:.2f} cores busy); "
              f"stolen by the hypervisor: {b['cores_stolen']:.2f} / {f['cores_stolen']:.2f} cores")
        for tag, phase in (("bare", b), ("full", f)):
            print(f"  CPU by process, {tag:<5}" + ", ".join(
                f"{name} {ms:.2f}" for name, ms in phase["cpu_ms_by_process"].items()) + " (ms/request)")
        print(f"  full closed loop     {f['ok']} ok: {f['replied']} passive replies, "
              f"{f['unanswered']} 'success'; other {f['other']}, socket errors {f['errors']}")
        print(f"  open loop            {o['scheduled']} scheduled, {o['completed']} completed "
              f"({o['replied']} replies, {o['unanswered']} 'success', other {o['other']}), "
              f"errors {o['errors']}, unfinished {o['unfinished']}; p90 {o['p90_ms']:.1f} ms, "
              f"max {o['max_ms']:.1f} ms, generator send lag p99 {o['send_lag_p99_ms']:.1f} ms; "
              f"{o['cores_busy']:.2f} cores busy, {o['generator_cores']:.2f} of them the generator")
        ob = r["open_bare"]
        print(f"  bare, same rate      p50 {ob['p50_ms']:.1f}, p90 {ob['p90_ms']:.1f}, p99 {ob['p99_ms']:.1f}, "
              f"max {ob['max_ms']:.1f} ms (what the machine adds by itself at this rate)")
        if "safe" in r:
            sf = r["safe"]
            print(f"  safe mode (AES)      {sf['rps']:.0f} rps, p50/p99 {sf['p50_us']/1e3:.1f}/"
                  f"{sf['p99_us']/1e3:.1f} ms, {sf['replied']} replies, {sf['unanswered']} 'success', "
                  f"other {sf['other']}, pool exhausted {sf['exhausted']}")
        loss = "no loss" if s["inbound"] == r["sent"] == s["receipts"] else "MISMATCH"
        print(f"  shopper mix          {s['customers']} distinct openids over {s['inbound']} pushes: "
              f"{s['customers'] / max(1, s['inbound']):.0%} came from a first-time shopper (the heaviest path)")
        print(f"  stored               {s['inbound']} inbound messages, {s['receipts']} receipts, "
              f"{s['bot_replies']} bot replies, {s['customers']} customers, "
              f"{s['conversations']} conversations; pushes sent {r['sent']}: {loss}")
        names = {3: "warm-up", 4: "closed loop", 5: "open loop", 6: "safe mode"}
        print("  per phase            " + "; ".join(
            f"{names[k]} sent {v['sent']} / 200 {v['ok']} / stored {v['stored']}"
            + (f" / errors {v['errors']}" if v["errors"] else "")
            for k, v in sorted(r["phases"].items())))


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=int, default=15, help="closed-loop duration per app (15)")
    p.add_argument("--rounds", type=int, default=3,
                   help="closed loop in this many alternating bare/full rounds (3)")
    p.add_argument("--open-seconds", type=int, default=10, help="open-loop duration (10)")
    p.add_argument("--backends", default="sqlite,postgresql", help="comma-separated (sqlite,postgresql)")
    p.add_argument("--connections", type=int, default=16, help="wrk connections (16)")
    p.add_argument("--wrk-threads", type=int, default=1, help="wrk threads (1)")
    p.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    p.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    p.add_argument("--threads", type=int, default=4, help="gunicorn threads per gthread worker (4)")
    p.add_argument("--openids", type=int, default=OPENIDS,
                   help=f"distinct openids per wrk thread, cycled ({OPENIDS}: most pushes of a "
                        f"15 s run come from a first-time shopper; fewer = more returning shoppers)")
    p.add_argument("--no-safe", dest="safe", action="store_false", help="skip the safe-mode run")
    p.add_argument("--pg-admin", default=PG_ADMIN, help="PostgreSQL admin URL (a database is created)")
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    p.add_argument("--json", type=Path, help="also write the raw figures here")
    p.add_argument("--py-spy", type=Path, metavar="DIR",
                   help="record the full app's workers with py-spy during the closed loop "
                        "(collapsed stacks in DIR, summary printed)")
    p.add_argument("--py-spy-bin", default=shutil.which("py-spy") or "py-spy")
    p.add_argument("--full-app", default="wsgi:app", metavar="MODULE:APP",
                   help="the app measured against the bare one (wsgi:app); e.g. an experiment's "
                        "variant of it")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="before each backend, wait up to this long for other work on the machine to stop")
    opts = p.parse_args(argv)
    globals()["OPENIDS"] = opts.openids  # read at call time by the load builders
    if not shutil.which(opts.wrk):
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    rows = []
    for backend in [b.strip() for b in opts.backends.split(",") if b.strip()]:
        if backend not in TARGETS:
            print(f"unknown backend {backend!r} (sqlite, postgresql)", file=sys.stderr)
            return 2
        with tempfile.TemporaryDirectory(prefix=f"kefu-bench-{backend}-") as tmp:
            rows.append(run_backend(backend, opts, Path(tmp)))
    report(rows, opts)
    for r in rows:
        if "py_spy" in r:
            print(f"\npy-spy, {r['backend']}, full app workers during the closed loop:\n{r['py_spy']}")
    if opts.json:
        opts.json.write_text(json.dumps({"settings": vars(opts) | {"json": str(opts.json)},
                                         "rows": rows}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
