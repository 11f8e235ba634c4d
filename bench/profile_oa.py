"""Where the time of one OA push goes, in-process (Flask test client), one thread, no contention.

    .venv/bin/python bench/profile_oa.py [--backend sqlite|postgresql] [-n 2000] [--safe] [--cprofile]

The bench shop and texts of run_oa.py; every push has its own MsgId; openids cycle over
run_oa.OPENIDS, so with -n 2000 most pushes come from a new shopper (the heaviest path)
and a second pass (--repeat) reuses them. Prints the wall time per push, inclusive time
per step (timers wrapped around the pipeline's functions; nested steps overlap), the SQL
statements per push with their mean cursor time, and optionally the cProfile top list.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import logging
import os
import pstats
import secrets
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import workload  # noqa: E402
from bench.run_oa import OPENIDS, PG_ADMIN, REDIS_URL, database, plain_path  # noqa: E402
from tests.factories import signed, text_xml  # noqa: E402

STEP_TIME: Counter[str] = Counter()
STEP_CALLS: Counter[str] = Counter()


def timed(owner: object, attr: str, label: str) -> None:
    """Wrap owner.attr so its inclusive wall time accumulates under LABEL."""
    inner: Callable | None = getattr(owner, attr, None)
    if inner is None:  # the pipeline changed: time what is there
        return

    def wrapper(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            STEP_TIME[label] += time.perf_counter() - t0
            STEP_CALLS[label] += 1

    setattr(owner, attr, wrapper)


def cpu_split(app) -> dict[str, float]:
    """CPU seconds so far of this process, its database backend (PostgreSQL) and Redis."""
    import redis

    split = {"python": time.process_time()}
    engine = app.extensions["hook_engine"]  # the engine ingest uses
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:  # the pool hands the app this same connection
            pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        split["postgres backend"] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    info = redis.Redis.from_url(REDIS_URL).info("cpu")
    split["redis server"] = info["used_cpu_sys"] + info["used_cpu_user"]
    return split


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    p.add_argument("-n", type=int, default=2000, help="pushes per measured pass (2000)")
    p.add_argument("--top", type=int, default=40)
    p.add_argument("--pg-admin", default=PG_ADMIN)
    p.add_argument("--safe", action="store_true", help="safe-mode (AES) pushes instead of plaintext")
    p.add_argument("--cprofile", action="store_true", help="add a cProfile pass (inflates ORM code ~2x)")
    opts = p.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="kefu-profile-") as tmp, \
            database(opts.backend, Path(tmp), opts.pg_admin) as url:
        os.environ.update(DATABASE_URL=url, SECRET_KEY="profile-" + secrets.token_hex(8))
        os.environ["REDIS_URL"] = REDIS_URL  # events and dispatch jobs go to real Redis
        import redis
        redis.Redis.from_url(REDIS_URL).flushdb()
        from alembic import command
        from sqlalchemy import event
        from sqlalchemy.orm import Session

        import bridge.ingest.pipeline
        import bridge.ingest.webhook
        from adapters.wechat.oa import WeChatOAAdapter
        from bridge import create_app
        from bridge.autoreply import Matcher
        from bridge.cli import alembic_config
        from bridge.effects import Effects
        from bridge.infra import db
        from bridge.ingest.store import Store
        from bridge.shops.file import validate
        from bridge.shops.load import apply

        command.upgrade(alembic_config(url), "head")
        app = create_app()
        logging.getLogger().setLevel(logging.WARNING)
        doc = workload.shop_document()
        with db.new_session(app) as s:
            apply(s, validate(doc), datetime.now(timezone.utc))
            s.commit()
        texts = [t for _, t in workload.texts(doc["shops"][0]["auto_replies"], 2000)]
        client = app.test_client()
        created = int(time.time())

        def pushes(base: int, n: int, tag: str = "a", start: int = 0):
            if opts.safe:
                ch = workload.SAFE
                for i in range(start, start + n):
                    args, body = signed(ch["token"], text_xml(f"op{tag}_{i % OPENIDS}", texts[i % len(texts)],
                                                              base + i, created),
                                        "safe", aes_key=ch["encoding_aes_key"], app_id=ch["app_id"])
                    yield f"/hooks/wechat-oa/{ch['key']}", args, body
            else:
                path, _, query = plain_path(workload.PLAIN).partition("?")
                args = dict(kv.split("=") for kv in query.split("&"))
                for i in range(start, start + n):
                    yield path, args, text_xml(f"op{tag}_{i % OPENIDS}", texts[i % len(texts)],
                                               base + i, created).encode()

        def run(work) -> float:
            started = time.perf_counter()
            for path, args, body in work:
                resp = client.post(path, query_string=args, data=body, content_type="text/xml")
                assert resp.status_code == 200, resp.data
            return time.perf_counter() - started

        run(list(pushes(10**12, 100, "w")))  # warm-up: caches, compiled statements
        # pass 0: the bare app, same requests, for reference
        from bench.bare import app as bare_app
        bare_client = bare_app.test_client()
        bare_work = list(pushes(9 * 10**12, opts.n, "z"))
        started = time.perf_counter()
        for path, args, body in bare_work:
            bare_client.post(path, query_string=args, data=body, content_type="text/xml")
        print(f"bench/bare.py via the test client: {(time.perf_counter() - started) / opts.n * 1e3:.2f} ms/request")

        # pass 1: raw wall time, nothing attached; and whose CPU it was
        for label, base in (("new shoppers", 2 * 10**12), ("returning shoppers", 3 * 10**12)):
            work = list(pushes(base, opts.n, "a"))
            cpu0 = cpu_split(app)
            wall = run(work)
            cpu = {k: (v - cpu0[k]) / opts.n * 1e3 for k, v in cpu_split(app).items()}
            print(f"{opts.backend}{' safe' if opts.safe else ''}, {label}: {opts.n} pushes in "
                  f"{wall:.2f} s = {wall / opts.n * 1e3:.2f} ms/push (test client, no profiler)")
            print("    CPU per push: " + ", ".join(f"{k} {v:.3f} ms" for k, v in cpu.items()))

        # pass 2: step timers and SQL statements
        statements: Counter[str] = Counter()
        sql_time: Counter[str] = Counter()
        engine = app.extensions["hook_engine"]

        @event.listens_for(engine, "before_cursor_execute")
        def _before(conn, cursor, statement, params, context, executemany):
            conn.info.setdefault("t0", []).append(time.perf_counter())

        @event.listens_for(engine, "after_cursor_execute")
        def _after(conn, cursor, statement, params, context, executemany):
            key = " ".join(statement.split())[:100]
            statements[key] += 1
            sql_time[key] += time.perf_counter() - conn.info["t0"].pop()

        timed(app, "wsgi_app", "flask wsgi_app (whole request minus test client)")
        timed(bridge.ingest.webhook, "handle", "webhook.handle")
        timed(WeChatOAAdapter, "verify", "  adapter.verify (URL signature)")
        timed(WeChatOAAdapter, "parse", "  adapter.parse (decrypt + XML)")
        timed(WeChatOAAdapter, "respond", "  adapter.respond (render the passive reply's XML)")
        timed(Matcher, "match", "  Matcher.match (300 rules)")
        timed(bridge.ingest.webhook, "ingest", "  ingest (whole transaction)")
        timed(Store, "begin", "    Store.begin (BEGIN; SQLite: the writers' queue)")
        raw_run = Store._run

        def counted_run(store, sql, params):  # ingest's plain statements bypass SQLAlchemy's events
            t0 = time.perf_counter()
            try:
                return raw_run(store, sql, params)
            finally:
                key = " ".join(sql.split())[:100]
                statements[key] += 1
                sql_time[key] += time.perf_counter() - t0

        Store._run = counted_run
        timed(Store, "rate", "    Store.rate (an answer to a rating card)")
        timed(Store, "push_message", "    Store.push_message (PostgreSQL: one statement)")
        timed(Store, "commit", "    Store.commit (COMMIT)")
        timed(Effects, "after_commit", "    Effects.after_commit (Redis: PUBLISH, dispatch claim)")
        timed(Session, "flush", "    Session.flush (ORM: none on the push path)")
        for label, base, tag in (("new shoppers", 4 * 10**12, "b"), ("returning shoppers", 5 * 10**12, "b")):
            work = list(pushes(base, opts.n, tag))
            STEP_TIME.clear()
            STEP_CALLS.clear()
            statements.clear()
            sql_time.clear()
            wall = run(work)
            print(f"\nstep timings, {label} ({opts.n} pushes, timers attached: "
                  f"{wall / opts.n * 1e3:.2f} ms/push)")
            for step, total in STEP_TIME.items():
                print(f"  {total / opts.n * 1e3:7.3f} ms/push  {STEP_CALLS[step] / opts.n:5.2f} calls  {step}")
            total_sql = sum(sql_time.values())
            print(f"SQL: {sum(statements.values()) / opts.n:.1f} statements/push, "
                  f"{total_sql / opts.n * 1e3:.2f} ms/push inside execute")
            for key, count in statements.most_common():
                print(f"  {count / opts.n:5.2f}/push {sql_time[key] / count * 1e6:6.0f} µs  {key}")

        if opts.cprofile:
            work = list(pushes(6 * 10**12, opts.n, "c"))
            prof = cProfile.Profile()
            prof.enable()
            run(work)
            prof.disable()
            for sort in ("cumulative", "tottime"):
                out = io.StringIO()
                pstats.Stats(prof, stream=out).sort_stats(sort).print_stats(opts.top)
                print(out.getvalue())
        redis.Redis.from_url(REDIS_URL).flushdb()
    return 0


if __name__ == "__main__":
    sys.exit(main())
