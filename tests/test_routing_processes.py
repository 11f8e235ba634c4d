"""Routing under concurrency: several processes draining and ending at once never overfill an
agent, never assign a shopper twice, and keep the queue's order."""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from sqlalchemy import select

from bridge.infra import db
from bridge.models import Conversation
from tests.routing_load import app_for, churn, observe, overloads, seed

CASES = {  # backend: (processes, agents, capacity, shoppers, rounds per process)
    "postgresql": (4, 50, 2, 1000, 60),
    "sqlite": (4, 10, 2, 200, 25),
}


def test_concurrent_drains_keep_capacity_uniqueness_and_order(database_url, real_redis_url):
    url = database_url
    processes, agents, capacity, shoppers, rounds = CASES[url.split(":")[0].split("+")[0]]
    app = app_for(url, real_redis_url)
    shop_id = seed(app, agents, capacity, shoppers)

    ctx = multiprocessing.get_context("spawn")
    with ctx.Manager() as manager:
        start, stop = manager.Event(), manager.Event()
        with ProcessPoolExecutor(processes + 1, mp_context=ctx) as pool:
            watcher = pool.submit(observe, url, real_redis_url, shop_id, 300, stop)
            workers = [pool.submit(churn, url, real_redis_url, shop_id, rounds, n, start)
                       for n in range(processes)]
            start.set()
            results = [w.result(timeout=300) for w in workers]
            stop.set()
            violations = watcher.result(timeout=60)

    assert violations == [], f"agents above capacity while running: {violations[:5]}"
    assert sum(r["ended"] for r in results) > processes * rounds // 2  # the load really ran
    with db.new_session(app) as s:
        assert overloads(s, shop_id) == []
        rows = s.execute(select(Conversation.id, Conversation.state, Conversation.queued_at, Conversation.agent_id)
                         .where(Conversation.shop_id == shop_id)).all()
    served = [r for r in rows if r.state in ("active", "ended")]
    waiting = [r for r in rows if r.state == "queued"]
    assert len(served) + len(waiting) == shoppers
    assert all(r.agent_id is not None for r in served)
    # FIFO: nobody still waiting queued before anyone who was served
    if waiting:
        assert max(r.queued_at for r in served) < min(r.queued_at for r in waiting)
    # Everyone is online at the end and the queue is drained as far as capacity allows
    ended = sum(r.state == "ended" for r in served)
    assert sum(r.state == "active" for r in served) <= agents * 4
    assert ended == sum(r["ended"] for r in results)  # each end happened exactly once
    db.dispose(app)
