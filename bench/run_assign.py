"""Committed assignments per second on PostgreSQL: 4 processes, 50 agents, 1,000 waiting shoppers.

Two figures, each from real transactions under the shop lock (bridge/conversations/assignment.py):
- burst: 50 agents x 20 seats come online to 1,000 waiting shoppers; 4 processes call
  dispatch at once (one wins the lock and drains; the others find nothing left);
- churn: agents x 2 seats are full and 1,000 wait; each of 4 processes loops "end one
  conversation, which drains one from the queue" — the steady state of a busy shop.

    .venv/bin/python bench/run_assign.py [--processes 4] [--rounds 150]
"""
from __future__ import annotations

import argparse
import multiprocessing
import random
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, select, text  # noqa: E402

from bridge.cli import alembic_config  # noqa: E402
from bridge.conversations import assignment, lifecycle
from bridge.infra import db  # noqa: E402
from bridge.models import Conversation  # noqa: E402
from tests.routing_load import app_for, seed  # noqa: E402

ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def fresh_database() -> tuple[str, callable]:
    from alembic import command

    name = f"kefu_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN.rsplit("/", 1)[0] + "/" + name
    command.upgrade(alembic_config(url), "head")

    def drop():
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return url, drop


def burst_worker(url: str, shop_id: int, start) -> int:
    app = app_for(url, None)
    with app.app_context(), db.new_session(app) as s:
        start.wait()
        return assignment.dispatch(s, shop_id, datetime.now(timezone.utc))


def churn_worker(url: str, shop_id: int, rounds: int, seed_: int, start) -> int:
    app = app_for(url, None)
    rng = random.Random(seed_)
    ended = 0
    with app.app_context(), db.new_session(app) as s:
        start.wait()
        for _ in range(rounds):
            active = s.scalars(select(Conversation.id).where(Conversation.shop_id == shop_id,
                                                             Conversation.state == "active").limit(100)).all()
            s.rollback()
            try:
                lifecycle.end(s, rng.choice(active), datetime.now(timezone.utc), reason="bench")
                ended += 1
            except lifecycle.Conflict:
                s.rollback()
    return ended


def run(kind: str, processes: int, rounds: int) -> dict:
    url, drop = fresh_database()
    try:
        app = app_for(url, None)
        capacity = 20 if kind == "burst" else 2
        shop_id = seed(app, agents=50, capacity=capacity, shoppers=1000)
        with app.app_context(), db.new_session(app) as s:
            if kind == "churn":  # fill every seat first; 900 keep waiting
                assignment.dispatch(s, shop_id, datetime.now(timezone.utc))
            before = s.scalar(select(func.count()).select_from(Conversation).where(
                Conversation.shop_id == shop_id, Conversation.assigned_at.is_not(None)))
        ctx = multiprocessing.get_context("spawn")
        with ctx.Manager() as m, ProcessPoolExecutor(processes, mp_context=ctx) as pool:
            start = m.Event()
            if kind == "burst":
                futures = [pool.submit(burst_worker, url, shop_id, start) for _ in range(processes)]
            else:
                futures = [pool.submit(churn_worker, url, shop_id, rounds, n, start) for n in range(processes)]
            time.sleep(3)  # let every process import and connect before the clock starts
            t0 = time.perf_counter()
            start.set()
            for f in futures:
                f.result()
            elapsed = time.perf_counter() - t0
        with db.new_session(app) as s:
            after = s.scalar(select(func.count()).select_from(Conversation).where(
                Conversation.shop_id == shop_id, Conversation.assigned_at.is_not(None)))
        app.extensions["db_engine"].dispose()
        made = after - before
        return {"kind": kind, "assignments": made, "seconds": elapsed, "per_second": made / elapsed}
    finally:
        drop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=150, help="ends per process in the churn run")
    args = parser.parse_args()
    print(f"{'run':8} {'assignments':>12} {'seconds':>9} {'per second':>11}")
    for kind in ("burst", "churn"):
        r = run(kind, args.processes, args.rounds)
        print(f"{r['kind']:8} {r['assignments']:>12} {r['seconds']:>9.2f} {r['per_second']:>11.1f}")


if __name__ == "__main__":
    main()
