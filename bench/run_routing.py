"""The routing engine alone: decisions per second of the pure functions, no app, no database.

    .venv/bin/python bench/run_routing.py [--decisions 20000] [--drains 5] [--seed 1]

A seeded shop of 50 agents (online, busy and offline; five groups; mixed capacity, load and
weight) with 5 entry routes. Per strategy: `decide` over a cycle of varied shoppers (entry
contexts, chosen/recent/exclusive agents, fixed groups, reassignments), then `drain` of
1,000 waiting shoppers over the same 50 agents, with room for all of them. Every loop is
bounded by a count, never by the clock.
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from dataclasses import replace
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bridge.routing import (  # noqa: E402
    STRATEGIES, AgentState, Request, RouteRule, ShopRules, Waiting, decide, drain,
)

AGENTS = 50
WAITING = 1000
NOW = datetime(2024, 6, 3, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in Shanghai
ROUTES = (
    RouteRule({"category": "menswear"}, 1),
    RouteRule({"order_state": "shipped", "scene": "vip"}, 2),
    RouteRule({"scene": "vip"}, 3),
    RouteRule({"menu": "aftersales"}, 4),
    RouteRule({"page": "/night"}, 5),
)
CONTEXTS = ({}, {"category": "menswear"}, {"order_state": "shipped", "scene": "vip"},
            {"scene": "vip"}, {"menu": "aftersales"}, {"page": "/night"}, {"category": "books"})
WORKING_HOURS = ({"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"},
                 {"days": [6, 7], "start": "10:00", "end": "16:00"})


def make_agents(rng: random.Random, max_load: int) -> list[AgentState]:
    """50 agents, 70% online, 16% busy, 14% offline; each in one or two of five groups."""
    agents = []
    for n in range(1, AGENTS + 1):
        status = "online" if n % 50 < 35 else ("busy" if n % 50 < 43 else "offline")
        cap = rng.randint(20, 50)
        agents.append(AgentState(
            id=n, status=status, max_concurrent=cap, active=rng.randint(0, min(cap, max_load)),
            weight=rng.randint(1, 5), groups=frozenset(rng.sample(range(1, 6), rng.randint(1, 2))),
            last_assigned_at=rng.choice([None, NOW.timestamp() - rng.randint(1, 86400)])))
    return agents


def make_requests(rng: random.Random, count: int) -> list[Request]:
    def maybe() -> int | None:
        return rng.randint(1, AGENTS) if rng.random() < 0.2 else None

    return [Request(conversation_id=n, context=rng.choice(CONTEXTS), chosen_agent_id=maybe(),
                    recent_agent_id=maybe(), exclusive_agent_id=maybe(),
                    group_id=rng.randint(1, 5) if rng.random() < 0.1 else None,
                    exclude_agent_id=maybe())
            for n in range(count)]


def rules_for(strategy: str, order: str = "fifo") -> ShopRules:
    return ShopRules(strategy=strategy, queue_order=order, customer_chooses_agent=True,
                     working_hours=WORKING_HOURS, routes=ROUTES)


def bench_decide(strategy: str, decisions: int, seed: int) -> tuple[float, dict[str, int]]:
    rng = random.Random(seed)
    agents = [a if 5 not in a.groups else replace(a, active=a.max_concurrent)
              for a in make_agents(rng, max_load=10)]  # group 5 full: some shoppers queue
    requests = make_requests(rng, 1000)
    rules, outcomes = rules_for(strategy), {}
    started = time.perf_counter()
    for n in range(decisions):
        decision = decide(requests[n % len(requests)], agents, rules, NOW, rng)
        outcomes[decision.action] = outcomes.get(decision.action, 0) + 1
    return decisions / (time.perf_counter() - started), outcomes


def bench_drain(strategy: str, order: str, drains: int, seed: int) -> tuple[float, float, int]:
    rng = random.Random(seed)
    agents = make_agents(rng, max_load=10)  # 35 online with >= 10 room each: room for all
    requests = make_requests(rng, WAITING)
    waiting = [Waiting(r, NOW.timestamp() - rng.randint(0, 3600)) for r in requests]
    rules, assigned, elapsed = rules_for(strategy, order), 0, 0.0
    for _ in range(drains):
        started = time.perf_counter()
        made = drain(waiting, agents, rules, NOW, rng)
        elapsed += time.perf_counter() - started
        assigned = len(made)
    return WAITING * drains / elapsed, 1000 * elapsed / drains, assigned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--decisions", type=int, default=20_000, help="decide calls per strategy")
    parser.add_argument("--drains", type=int, default=5, help="drains of 1,000 per strategy")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if not (1 <= args.decisions <= 10_000_000 and 1 <= args.drains <= 1000):
        parser.error("--decisions 1..10,000,000 and --drains 1..1,000")

    print(f"python {sys.version.split()[0]}; {AGENTS} agents (35 online, 8 busy, 7 offline), "
          f"{len(ROUTES)} entry routes, seed {args.seed}")
    print(f"\ndecide x {args.decisions:,}")
    print(f"{'strategy':<12} {'decisions/s':>12}   outcomes")
    for strategy in STRATEGIES:
        rate, outcomes = bench_decide(strategy, args.decisions, args.seed)
        shares = ", ".join(f"{k} {v / args.decisions:.0%}" for k, v in sorted(outcomes.items()))
        print(f"{strategy:<12} {rate:>12,.0f}   {shares}")

    print(f"\ndrain of {WAITING:,} waiting over {AGENTS} agents x {args.drains}")
    print(f"{'strategy':<12} {'order':<5} {'shoppers/s':>12} {'ms/drain':>9} {'assigned':>9}")
    for strategy in STRATEGIES:
        for order in ("fifo", "lifo"):
            rate, ms, assigned = bench_drain(strategy, order, args.drains, args.seed)
            print(f"{strategy:<12} {order:<5} {rate:>12,.0f} {ms:>9.1f} {assigned:>9,}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
