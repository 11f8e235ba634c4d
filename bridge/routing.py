"""The routing engine: which agent gets which shopper. Pure — a decision from a snapshot.

No Flask, no database, no Redis in here (STYLE.md #3). The caller loads a snapshot of the
shop under its lock, asks for a decision, applies it and commits. The decision order is
DESIGN.md's, step by step:

1. nobody online (and present) → wait (leave a message: off-hours or no-agent notice)
2. the agent the shopper chose      3. the agent of a recent contact
4. the shopper's exclusive agent    5. the group an entry route names, else the whole shop
6. the shop's strategy among candidates with room    7. nobody has room → queue
"""
from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time
from zoneinfo import ZoneInfo

STRATEGIES = ("least_load", "round_robin", "idle_rate", "weighted")


@dataclass(frozen=True)
class AgentState:
    id: int
    status: str  # online | busy | offline
    max_concurrent: int
    active: int  # conversations assigned now
    weight: int = 1
    groups: frozenset[int] = frozenset()
    last_assigned_at: float | None = None  # unix seconds; None = never
    away: bool = False  # its clients have gone quiet (accounts/presence.py): online in name only

    @property
    def room(self) -> int:
        return self.max_concurrent - self.active

    @property
    def routable(self) -> bool:
        """Takes new shoppers: online, and present. An away agent keeps its shoppers."""
        return self.status == "online" and not self.away

    @property
    def available(self) -> bool:
        return self.routable and self.room > 0


@dataclass(frozen=True)
class RouteRule:
    when: Mapping[str, str]  # every condition must equal the entry context's value
    group_id: int


@dataclass(frozen=True)
class ShopRules:
    strategy: str = "least_load"
    queue_order: str = "fifo"
    customer_chooses_agent: bool = False
    working_hours: tuple[Mapping, ...] = ()
    timezone: str = "Asia/Shanghai"
    routes: tuple[RouteRule, ...] = ()


@dataclass(frozen=True)
class Request:
    """One shopper waiting for a human, and what is known of them."""

    conversation_id: int
    context: Mapping[str, str] = field(default_factory=dict)  # scene, menu, category, …
    chosen_agent_id: int | None = None
    recent_agent_id: int | None = None
    exclusive_agent_id: int | None = None
    group_id: int | None = None  # already fixed (a transfer to a group)
    exclude_agent_id: int | None = None  # reassignment: not the one who left them waiting


@dataclass(frozen=True)
class Decision:
    action: str  # assign | queue | wait
    reason: str  # chosen | recent | exclusive | strategy | full | nobody_online
    agent_id: int | None = None
    group_id: int | None = None
    notice: str | None = None  # off_hours | no_agent | queue


def within_working_hours(rules: ShopRules, now: datetime) -> bool:
    """Open when no hours are set, or when the shop's local time falls in a period."""
    if not rules.working_hours:
        return True
    local = now.astimezone(ZoneInfo(rules.timezone))
    clock = local.time().replace(second=0, microsecond=0)
    for period in rules.working_hours:
        start, end = time.fromisoformat(period["start"]), time.fromisoformat(period["end"])
        if local.isoweekday() in period["days"] and start <= clock < end:
            return True
    return False


def entry_group(rules: ShopRules, context: Mapping[str, str]) -> int | None:
    for route in rules.routes:
        if all(context.get(key) == value for key, value in route.when.items()):
            return route.group_id
    return None


def pick(strategy: str, candidates: Sequence[AgentState], rng: random.Random) -> AgentState:
    """Step 6: the strategy's choice among agents that all have room."""
    never = float("-inf")
    if strategy == "least_load":
        return min(candidates, key=lambda a: (a.active, a.last_assigned_at or never, a.id))
    if strategy == "round_robin":
        return min(candidates, key=lambda a: (a.last_assigned_at or never, a.id))
    if strategy == "idle_rate":
        best = max(a.room / a.max_concurrent for a in candidates)
        return rng.choice([a for a in candidates if a.room / a.max_concurrent == best])
    if strategy == "weighted":
        return max(candidates, key=lambda a: (a.weight * a.room / a.max_concurrent,
                                              -(a.last_assigned_at or never), -a.id))
    raise ValueError(f"unknown strategy {strategy!r}")


def decide(request: Request, agents: Iterable[AgentState], rules: ShopRules, now: datetime,
           rng: random.Random | None = None) -> Decision:
    agents = [a for a in agents if a.id != request.exclude_agent_id]
    online = [a for a in agents if a.routable]
    if not online:
        notice = "no_agent" if within_working_hours(rules, now) else "off_hours"
        return Decision("wait", "nobody_online", group_id=request.group_id, notice=notice)

    by_id = {a.id: a for a in online}
    preferred = [("recent", request.recent_agent_id), ("exclusive", request.exclusive_agent_id)]
    if rules.customer_chooses_agent:
        preferred.insert(0, ("chosen", request.chosen_agent_id))
    if request.group_id is None:  # a transfer to a group skips the shopper's preferences
        for reason, agent_id in preferred:
            agent = by_id.get(agent_id)
            if agent is not None and agent.available:
                return Decision("assign", reason, agent_id=agent.id)

    group_id = request.group_id or entry_group(rules, request.context)
    members = [a for a in online if group_id in a.groups] if group_id else online
    if group_id and not members:
        group_id, members = None, online  # nobody of the group is online: the whole shop serves
    candidates = [a for a in members if a.room > 0]
    if not candidates:
        return Decision("queue", "full", group_id=group_id, notice="queue")
    agent = pick(rules.strategy, candidates, rng or random.Random())
    return Decision("assign", "strategy", agent_id=agent.id, group_id=group_id)


@dataclass(frozen=True)
class Waiting:
    """A conversation in the queue (queued or waiting), as the drain sees it."""

    request: Request
    queued_at: float


def queue_order(waiting: Iterable[Waiting], order: str) -> list[Waiting]:
    """FIFO: longest waiting first; LIFO: newest first. Ties by conversation id."""
    items = sorted(waiting, key=lambda w: (w.queued_at, w.request.conversation_id))
    return items[::-1] if order == "lifo" else items


def drain(waiting: Iterable[Waiting], agents: Iterable[AgentState], rules: ShopRules, now: datetime,
          rng: random.Random | None = None) -> list[tuple[int, Decision]]:
    """Assign from the queue, in order, while anyone has room.

    A shopper whose group is full does not hold up the ones behind who can be served.
    Returns the assignments made, in queue order.
    """
    rng = rng or random.Random()
    state = {a.id: a for a in agents}
    made: list[tuple[int, Decision]] = []
    stamp = now.timestamp()
    for item in queue_order(waiting, rules.queue_order):
        if not any(a.available for a in state.values()):
            break
        decision = decide(item.request, state.values(), rules, now, rng)
        if decision.action != "assign":
            continue
        agent = state[decision.agent_id]
        state[agent.id] = replace(agent, active=agent.active + 1, last_assigned_at=stamp)
        # Each assignment of this drain is later than the one before, or every agent served
        # in it would tie on `now` and round_robin (and the recency ties) would fall to the
        # lowest id for the rest of the drain instead of rotating.
        stamp = math.nextafter(stamp, math.inf)
        made.append((item.request.conversation_id, decision))
    return made


def queue_position(waiting: Iterable[Waiting], conversation_id: int, order: str) -> int:
    """1-based place in the drain order."""
    for n, item in enumerate(queue_order(waiting, order), start=1):
        if item.request.conversation_id == conversation_id:
            return n
    raise LookupError(conversation_id)
