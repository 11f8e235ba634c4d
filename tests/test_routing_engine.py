"""The routing engine, rule by rule and tie by tie (DESIGN.md "Routing"), table-style.

Pure functions on snapshots: no app, no database, no clock. Every random choice goes
through a seeded `random.Random`, so every outcome here is exact and repeatable.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from bridge.routing import (
    STRATEGIES, AgentState, Decision, Request, RouteRule, ShopRules, Waiting, decide, drain,
    entry_group, pick, queue_order, queue_position, within_working_hours,
)

UTC = timezone.utc
NOW = datetime(2024, 6, 3, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
WEEKDAYS_9_TO_18 = ({"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "18:00"},)


def agent(id: int, status: str = "online", max: int = 5, active: int = 0, *, weight: int = 1,
          groups: tuple[int, ...] = (), last: float | None = None) -> AgentState:
    return AgentState(id=id, status=status, max_concurrent=max, active=active, weight=weight,
                      groups=frozenset(groups), last_assigned_at=last)


def utc(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """An instant in June 2024 (the 3rd is a Monday), given in UTC."""
    return datetime(2024, 6, day, hour, minute, second, tzinfo=UTC)


def ids(agents) -> list[int]:
    return [a.id for a in agents]


# -- working hours -------------------------------------------------------------------------

SPLIT_DAY = (
    {"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "12:00"},
    {"days": [1, 2, 3, 4, 5], "start": "13:00", "end": "18:00"},
    {"days": [6], "start": "10:00", "end": "14:00"},
)


@pytest.mark.parametrize("hours, tz, now, expected", [
    pytest.param((), "Asia/Shanghai", utc(9, 19), True, id="no-hours-always-open"),
    pytest.param(WEEKDAYS_9_TO_18, "Asia/Shanghai", utc(3, 2), True, id="sh-mon-10:00-open"),
    pytest.param(WEEKDAYS_9_TO_18, "UTC", utc(3, 2), False, id="utc-mon-02:00-closed"),
    pytest.param(WEEKDAYS_9_TO_18, "Asia/Shanghai", utc(3, 0, 59, 59), False,
                 id="sh-08:59:59-before-start"),
    pytest.param(WEEKDAYS_9_TO_18, "Asia/Shanghai", utc(3, 1), True, id="sh-start-inclusive"),
    pytest.param(WEEKDAYS_9_TO_18, "Asia/Shanghai", utc(3, 9, 59, 59), True,
                 id="sh-17:59:59-still-open"),
    pytest.param(WEEKDAYS_9_TO_18, "Asia/Shanghai", utc(3, 10), False, id="sh-end-exclusive"),
    pytest.param(WEEKDAYS_9_TO_18, "UTC", utc(3, 10), True, id="utc-same-instant-open"),
    # Sunday 23:30 UTC is Monday 07:30 in Shanghai; Friday 18:30 UTC is Saturday 02:30.
    pytest.param(({"days": [1], "start": "07:00", "end": "08:00"},), "Asia/Shanghai",
                 utc(2, 23, 30), True, id="sh-weekday-is-local-monday"),
    pytest.param(({"days": [1], "start": "07:00", "end": "08:00"},), "UTC",
                 utc(2, 23, 30), False, id="utc-weekday-is-sunday"),
    pytest.param(WEEKDAYS_9_TO_18, "UTC", utc(7, 18, 30), False, id="utc-fri-18:30-closed"),
    pytest.param(({"days": [6], "start": "02:00", "end": "03:00"},), "Asia/Shanghai",
                 utc(7, 18, 30), True, id="sh-fri-utc-is-sat-local"),
    pytest.param(({"days": [7], "start": "10:00", "end": "16:00"},), "UTC", utc(9, 12), True,
                 id="day-7-is-sunday"),
    pytest.param(({"days": [7], "start": "10:00", "end": "16:00"},), "UTC", utc(3, 12), False,
                 id="day-7-not-monday"),
    pytest.param(({"days": [1], "start": "10:00", "end": "16:00"},), "UTC", utc(9, 12), False,
                 id="day-1-not-sunday"),
    pytest.param(SPLIT_DAY, "UTC", utc(4, 11, 59), True, id="periods-morning"),
    pytest.param(SPLIT_DAY, "UTC", utc(4, 12), False, id="periods-lunch-break"),
    pytest.param(SPLIT_DAY, "UTC", utc(4, 12, 59, 59), False, id="periods-lunch-last-second"),
    pytest.param(SPLIT_DAY, "UTC", utc(4, 13), True, id="periods-afternoon-start"),
    pytest.param(SPLIT_DAY, "UTC", utc(8, 13, 59), True, id="periods-saturday"),
    pytest.param(SPLIT_DAY, "UTC", utc(8, 9), False, id="periods-saturday-before"),
    pytest.param(SPLIT_DAY, "UTC", utc(9, 11), False, id="periods-sunday-closed"),
])
def test_within_working_hours(hours, tz, now, expected):
    assert within_working_hours(ShopRules(working_hours=hours, timezone=tz), now) is expected


# -- step 1: nobody online ------------------------------------------------------------------

@pytest.mark.parametrize("agents, hours, now, expected_notice", [
    pytest.param([], (), NOW, "no_agent", id="no-agents-no-hours"),
    pytest.param([agent(1, "offline"), agent(2, "busy")], (), NOW, "no_agent",
                 id="busy-and-offline-no-hours"),
    pytest.param([agent(1, "busy")], WEEKDAYS_9_TO_18, utc(3, 2), "no_agent",
                 id="busy-within-hours"),
    pytest.param([agent(1, "busy")], WEEKDAYS_9_TO_18, utc(3, 12), "off_hours",
                 id="busy-sh-20:00-off-hours"),
    pytest.param([agent(1, "offline")], WEEKDAYS_9_TO_18, utc(8, 2), "off_hours",
                 id="offline-saturday-off-hours"),
    pytest.param([agent(1, "offline")], WEEKDAYS_9_TO_18, utc(3, 0, 59), "off_hours",
                 id="offline-sh-08:59-off-hours"),
])
def test_nobody_online_waits(agents, hours, now, expected_notice):
    rules = ShopRules(working_hours=hours)
    decision = decide(Request(1, recent_agent_id=1), agents, rules, now, random.Random(0))
    assert decision == Decision("wait", "nobody_online", notice=expected_notice)


def test_nobody_online_keeps_the_fixed_group():
    decision = decide(Request(1, group_id=7), [agent(1, "busy", groups=(7,))], ShopRules(), NOW)
    assert decision == Decision("wait", "nobody_online", group_id=7, notice="no_agent")


def test_online_but_full_agent_counts_as_online():
    decision = decide(Request(1), [agent(1, max=2, active=2)], ShopRules(), NOW)
    assert decision == Decision("queue", "full", notice="queue")


# -- steps 2-4: chosen, recent, exclusive ---------------------------------------------------

# Agents 1, 2 and 3 are the shopper's chosen, recent and exclusive agents; agent 4 is the
# one the strategy (least_load) would pick, the only member of group 9, and of no preference.
def preference_agents(**overrides: AgentState) -> list[AgentState]:
    agents = {1: agent(1, active=1), 2: agent(2, active=1), 3: agent(3, active=1),
              4: agent(4, groups=(9,))}
    for key, value in overrides.items():
        agents[int(key[1:])] = value
    return list(agents.values())


ALL_THREE = {"chosen_agent_id": 1, "recent_agent_id": 2, "exclusive_agent_id": 3}


@pytest.mark.parametrize("chooses, request_fields, overrides, expected", [
    pytest.param(True, ALL_THREE, {}, ("chosen", 1), id="chosen-first"),
    pytest.param(False, ALL_THREE, {}, ("recent", 2), id="chosen-ignored-when-shop-off"),
    pytest.param(False, {"chosen_agent_id": 1}, {}, ("strategy", 4),
                 id="only-chosen-shop-off-strategy"),
    pytest.param(True, ALL_THREE, {"a1": agent(1, "offline")}, ("recent", 2),
                 id="chosen-offline-then-recent"),
    pytest.param(True, ALL_THREE, {"a1": agent(1, "busy")}, ("recent", 2),
                 id="chosen-busy-then-recent"),
    pytest.param(True, ALL_THREE, {"a1": agent(1, max=3, active=3)}, ("recent", 2),
                 id="chosen-full-then-recent"),
    pytest.param(True, {**ALL_THREE, "chosen_agent_id": 99}, {}, ("recent", 2),
                 id="chosen-unknown-then-recent"),
    pytest.param(False, {"recent_agent_id": 2, "exclusive_agent_id": 3}, {}, ("recent", 2),
                 id="recent-before-exclusive"),
    pytest.param(False, ALL_THREE, {"a2": agent(2, "offline")}, ("exclusive", 3),
                 id="recent-offline-then-exclusive"),
    pytest.param(False, ALL_THREE, {"a2": agent(2, "busy")}, ("exclusive", 3),
                 id="recent-busy-then-exclusive"),
    pytest.param(False, ALL_THREE, {"a2": agent(2, max=1, active=1)}, ("exclusive", 3),
                 id="recent-full-then-exclusive"),
    pytest.param(False, {"exclusive_agent_id": 3}, {}, ("exclusive", 3), id="exclusive-alone"),
    pytest.param(True, ALL_THREE, {"a1": agent(1, "offline"), "a2": agent(2, "offline"),
                                   "a3": agent(3, "offline")}, ("strategy", 4),
                 id="all-three-offline-strategy"),
    pytest.param(False, {"exclusive_agent_id": 3}, {"a3": agent(3, "busy")}, ("strategy", 4),
                 id="exclusive-busy-strategy"),
    pytest.param(False, {"exclusive_agent_id": 3}, {"a3": agent(3, max=2, active=2)},
                 ("strategy", 4), id="exclusive-full-strategy"),
    pytest.param(True, {**ALL_THREE, "exclude_agent_id": 1}, {}, ("recent", 2),
                 id="chosen-excluded-then-recent"),
    pytest.param(False, {**ALL_THREE, "exclude_agent_id": 2}, {}, ("exclusive", 3),
                 id="recent-excluded-then-exclusive"),
    pytest.param(True, {"exclusive_agent_id": 3, "exclude_agent_id": 3}, {}, ("strategy", 4),
                 id="exclusive-excluded-strategy"),
    pytest.param(False, {}, {}, ("strategy", 4), id="no-preferences-strategy"),
])
def test_preferences(chooses, request_fields, overrides, expected):
    rules = ShopRules(customer_chooses_agent=chooses)
    agents = preference_agents(**overrides)
    decision = decide(Request(1, **request_fields), agents, rules, NOW, random.Random(0))
    assert (decision.action, decision.reason, decision.agent_id) == ("assign", *expected)


@pytest.mark.parametrize("chooses", [pytest.param(True, id="chooses-on"),
                                     pytest.param(False, id="chooses-off")])
def test_fixed_group_skips_every_preference(chooses):
    rules = ShopRules(customer_chooses_agent=chooses)
    request = Request(1, group_id=9, **ALL_THREE)
    decision = decide(request, preference_agents(), rules, NOW, random.Random(0))
    assert decision == Decision("assign", "strategy", agent_id=4, group_id=9)


def test_preferences_come_before_entry_routes():
    rules = ShopRules(routes=(RouteRule({"scene": "vip"}, 9),))
    request = Request(1, context={"scene": "vip"}, recent_agent_id=2)
    decision = decide(request, preference_agents(), rules, NOW, random.Random(0))
    assert decision == Decision("assign", "recent", agent_id=2)


# -- step 5: entry routes -------------------------------------------------------------------

ROUTES = (
    RouteRule({"category": "menswear"}, 10),
    RouteRule({"order_state": "shipped", "scene": "vip"}, 20),
    RouteRule({"scene": "vip"}, 30),
    RouteRule({"category": "menswear", "scene": "vip"}, 40),  # shadowed by the first rule
    RouteRule({"menu": "aftersales"}, 50),
)


@pytest.mark.parametrize("context, expected", [
    pytest.param({}, None, id="empty-context"),
    pytest.param({"category": "menswear"}, 10, id="single-condition"),
    pytest.param({"category": "womenswear"}, None, id="value-mismatch"),
    pytest.param({"category": "menswear", "scene": "vip"}, 10, id="first-match-wins"),
    pytest.param({"order_state": "shipped"}, None, id="multi-condition-needs-all"),
    pytest.param({"order_state": "shipped", "scene": "vip"}, 20, id="multi-condition-all-met"),
    pytest.param({"order_state": "paid", "scene": "vip"}, 30, id="multi-fails-next-matches"),
    pytest.param({"scene": "vip", "page": "/cart"}, 30, id="extra-keys-ignored"),
    pytest.param({"menu": "aftersales"}, 50, id="later-rule"),
    pytest.param({"Menu": "aftersales"}, None, id="keys-exact"),
])
def test_entry_group(context, expected):
    assert entry_group(ShopRules(routes=ROUTES), context) == expected


def test_entry_group_without_routes():
    assert entry_group(ShopRules(), {"category": "menswear"}) is None


# Agent 1 is of no group and idle (the whole shop's pick); agent 2 of group 10 has load.
@pytest.mark.parametrize("request_fields, agents, expected", [
    pytest.param({"context": {"category": "menswear"}},
                 [agent(1), agent(2, active=3, groups=(10,))],
                 Decision("assign", "strategy", agent_id=2, group_id=10),
                 id="group-members-only"),
    pytest.param({"context": {"category": "menswear"}},
                 [agent(1), agent(2, active=3, groups=(10,)), agent(3, active=1, groups=(10, 30))],
                 Decision("assign", "strategy", agent_id=3, group_id=10),
                 id="strategy-within-group"),
    pytest.param({"context": {"category": "books"}},
                 [agent(1), agent(2, active=3, groups=(10,))],
                 Decision("assign", "strategy", agent_id=1), id="no-route-whole-shop"),
    pytest.param({"context": {"category": "menswear"}},
                 [agent(1), agent(2, "busy", groups=(10,)), agent(3, "offline", groups=(10,))],
                 Decision("assign", "strategy", agent_id=1), id="group-not-online-whole-shop"),
    pytest.param({"context": {"category": "menswear"}},
                 [agent(1), agent(2, max=3, active=3, groups=(10,))],
                 Decision("queue", "full", group_id=10, notice="queue"),
                 id="group-online-full-queues-for-group"),
    pytest.param({"context": {"category": "menswear"}},
                 [agent(1), agent(2, max=3, active=3, groups=(10,)), agent(3, "busy", groups=(10,))],
                 Decision("queue", "full", group_id=10, notice="queue"),
                 id="group-full-busy-member-no-help"),
    pytest.param({"context": {"category": "menswear"}, "group_id": 30},
                 [agent(1), agent(2, groups=(10,)), agent(3, active=2, groups=(30,))],
                 Decision("assign", "strategy", agent_id=3, group_id=30),
                 id="fixed-group-beats-route"),
    pytest.param({"group_id": 30}, [agent(1), agent(2, max=1, active=1, groups=(30,))],
                 Decision("queue", "full", group_id=30, notice="queue"),
                 id="fixed-group-full-queues"),
])
def test_entry_routes(request_fields, agents, expected):
    rules = ShopRules(routes=ROUTES)
    assert decide(Request(1, **request_fields), agents, rules, NOW, random.Random(0)) == expected


# -- step 6: strategies ---------------------------------------------------------------------

@pytest.mark.parametrize("strategy, candidates, expected", [
    pytest.param("least_load", [agent(1, active=3), agent(2, active=1), agent(3, active=2)], 2,
                 id="least_load-fewest-active"),
    pytest.param("least_load", [agent(1, max=50, active=5), agent(2, max=5, active=4)], 2,
                 id="least_load-counts-not-shares"),
    pytest.param("least_load", [agent(1, active=1, last=200.0), agent(2, active=1, last=100.0)], 2,
                 id="least_load-tie-oldest-assignment"),
    pytest.param("least_load", [agent(1, active=1, last=100.0), agent(2, active=1)], 2,
                 id="least_load-tie-never-assigned-first"),
    pytest.param("least_load", [agent(5, active=1), agent(3, active=1), agent(4, active=1)], 3,
                 id="least_load-tie-lowest-id"),
    pytest.param("least_load", [agent(1, active=0, last=999.0), agent(2, active=1)], 1,
                 id="least_load-load-before-recency"),
    pytest.param("round_robin", [agent(1, active=0, last=200.0), agent(2, active=4, last=100.0)], 2,
                 id="round_robin-oldest-regardless-of-load"),
    pytest.param("round_robin", [agent(1, last=100.0), agent(2)], 2,
                 id="round_robin-never-assigned-first"),
    pytest.param("round_robin", [agent(7, last=50.0), agent(6, last=50.0)], 6,
                 id="round_robin-tie-lowest-id"),
    pytest.param("idle_rate", [agent(1, max=10, active=2), agent(2, max=30, active=3)], 2,
                 id="idle_rate-design-example-80-vs-90"),
    pytest.param("idle_rate", [agent(1, max=2, active=0), agent(2, max=30, active=1)], 1,
                 id="idle_rate-share-not-room"),
    pytest.param("weighted", [agent(1, weight=1), agent(2, weight=3, max=10, active=5)], 2,
                 id="weighted-3x-half-beats-1x-all"),
    pytest.param("weighted", [agent(1, weight=3, max=10, active=5),
                              agent(2, weight=2, max=10, active=2)], 2,
                 id="weighted-2x-80-beats-3x-50"),
    pytest.param("weighted", [agent(1, weight=2, max=20, active=10),
                              agent(2, weight=2, max=4, active=1)], 2,
                 id="weighted-share-not-room"),
    pytest.param("weighted", [agent(1, weight=2, max=10, active=6),
                              agent(2, weight=2, max=10, active=3)], 2,
                 id="weighted-same-weight-freer-share"),
    pytest.param("weighted", [agent(1, weight=2, last=10.0), agent(2, weight=2)], 2,
                 id="weighted-tie-never-assigned-first"),
    pytest.param("weighted", [agent(1, weight=2, last=20.0), agent(2, weight=2, last=10.0)], 2,
                 id="weighted-tie-oldest-assignment"),
    pytest.param("weighted", [agent(9, weight=2), agent(4, weight=2)], 4,
                 id="weighted-tie-lowest-id"),
])
def test_pick(strategy, candidates, expected):
    assert pick(strategy, candidates, random.Random(0)).id == expected


def test_pick_unknown_strategy():
    with pytest.raises(ValueError, match="fastest"):
        pick("fastest", [agent(1)], random.Random(0))


def test_idle_rate_ties_are_random_among_the_tied_only():
    candidates = [agent(1, max=10, active=3), agent(2, max=10, active=2),  # 70%, 80%
                  agent(3, max=5, active=1), agent(4, max=20, active=5)]   # 80%, 75%
    rng = random.Random(20240603)
    counts = Counter(pick("idle_rate", candidates, rng).id for _ in range(2000))
    assert set(counts) == {2, 3}
    assert 800 < counts[2] < 1200 and counts[2] + counts[3] == 2000


def test_idle_rate_is_repeatable_with_the_same_seed():
    candidates = [agent(1, max=4, active=1), agent(2, max=8, active=2), agent(3, max=4, active=1)]
    draws = [[pick("idle_rate", candidates, rng).id for _ in range(50)]
             for rng in (random.Random(7), random.Random(7))]
    assert draws[0] == draws[1] and len(set(draws[0])) == 3


def test_decide_uses_the_shop_strategy():
    agents = [agent(1, max=10, active=2), agent(2, max=30, active=3)]
    picks = {s: decide(Request(1), agents, ShopRules(strategy=s), NOW, random.Random(0)).agent_id
             for s in ("least_load", "idle_rate")}
    assert picks == {"least_load": 1, "idle_rate": 2}


# -- capacity, busy, exclusion --------------------------------------------------------------

# In each case agent 1 is everyone's favourite but must not get the shopper; agent 2 must.
FAVOURITE_BUT = {
    "full": agent(1, max=3, active=3, weight=100),
    "over-full": agent(1, max=3, active=4, weight=100),
    "busy": agent(1, "busy", max=50, weight=100),
    "offline": agent(1, "offline", max=50, weight=100),
}


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("why", list(FAVOURITE_BUT))
def test_unavailable_agent_never_gets_one(strategy, why):
    agents = [FAVOURITE_BUT[why], agent(2, max=10, active=7, last=100.0)]
    request = Request(1, recent_agent_id=1, exclusive_agent_id=1, chosen_agent_id=1)
    rules = ShopRules(strategy=strategy, customer_chooses_agent=True)
    assert decide(request, agents, rules, NOW, random.Random(0)) == \
        Decision("assign", "strategy", agent_id=2)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_excluded_agent_never_chosen(strategy):
    agents = [agent(1, max=50, weight=100), agent(2, max=10, active=7, last=100.0)]
    request = Request(1, recent_agent_id=1, exclusive_agent_id=1, chosen_agent_id=1,
                      exclude_agent_id=1)
    rules = ShopRules(strategy=strategy, customer_chooses_agent=True)
    assert decide(request, agents, rules, NOW, random.Random(0)) == \
        Decision("assign", "strategy", agent_id=2)


def test_busy_agents_keep_their_conversations_through_a_drain():
    agents = [agent(1, "busy", max=5, active=4), agent(2, max=2)]
    waiting = [Waiting(Request(n, recent_agent_id=1), float(n)) for n in range(1, 5)]
    made = drain(waiting, agents, ShopRules(), NOW, random.Random(0))
    assert [(cid, d.agent_id) for cid, d in made] == [(1, 2), (2, 2)]
    assert agents[0].active == 4  # the snapshot is not touched


# -- step 7: queue --------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("agents", [
    pytest.param([agent(1, max=1, active=1), agent(2, max=4, active=4)], id="all-full"),
    pytest.param([agent(1, max=2, active=2), agent(2, "busy", max=9)], id="full-and-busy-room"),
    pytest.param([agent(1, max=2, active=2), agent(2, "offline", max=9)],
                 id="full-and-offline-room"),
])
def test_nobody_with_room_queues(strategy, agents):
    rules = ShopRules(strategy=strategy, working_hours=WEEKDAYS_9_TO_18)
    decision = decide(Request(1, recent_agent_id=1), agents, rules, utc(3, 12), random.Random(0))
    assert decision == Decision("queue", "full", notice="queue")


# -- queue order, position and drain --------------------------------------------------------

QUEUE = [Waiting(Request(11), 30.0), Waiting(Request(12), 10.0), Waiting(Request(13), 20.0),
         Waiting(Request(10), 20.0)]


@pytest.mark.parametrize("order, expected", [
    pytest.param("fifo", [12, 10, 13, 11], id="fifo-oldest-first-ties-by-id"),
    pytest.param("lifo", [11, 13, 10, 12], id="lifo-newest-first"),
])
def test_queue_order(order, expected):
    assert [w.request.conversation_id for w in queue_order(QUEUE, order)] == expected


@pytest.mark.parametrize("order, conversation_id, expected", [
    pytest.param("fifo", 12, 1, id="fifo-first"),
    pytest.param("fifo", 13, 3, id="fifo-third"),
    pytest.param("fifo", 11, 4, id="fifo-last"),
    pytest.param("lifo", 11, 1, id="lifo-first"),
    pytest.param("lifo", 10, 3, id="lifo-third"),
    pytest.param("lifo", 12, 4, id="lifo-last"),
])
def test_queue_position(order, conversation_id, expected):
    assert queue_position(QUEUE, conversation_id, order) == expected


def test_queue_position_of_a_stranger():
    with pytest.raises(LookupError):
        queue_position(QUEUE, 99, "fifo")


@pytest.mark.parametrize("order, room, expected", [
    pytest.param("fifo", 2, [12, 10], id="fifo-room-2"),
    pytest.param("lifo", 2, [11, 13], id="lifo-room-2"),
    pytest.param("fifo", 3, [12, 10, 13], id="fifo-room-3"),
    pytest.param("fifo", 9, [12, 10, 13, 11], id="fifo-room-for-all"),
    pytest.param("lifo", 9, [11, 13, 10, 12], id="lifo-room-for-all"),
    pytest.param("fifo", 0, [], id="no-room"),
])
def test_drain_assigns_in_order_while_room_lasts(order, room, expected):
    agents = [agent(1, max=room + 1, active=1)]
    made = drain(QUEUE, agents, ShopRules(queue_order=order), NOW, random.Random(0))
    assert [cid for cid, _ in made] == expected
    assert all(d.action == "assign" and d.agent_id == 1 for _, d in made)


def test_drain_keeps_the_shoppers_preferences():
    agents = [agent(1, max=3), agent(2, max=3, active=2), agent(3, max=3, active=2)]
    waiting = [Waiting(Request(1, recent_agent_id=3), 1.0), Waiting(Request(2), 2.0),
               Waiting(Request(3, exclusive_agent_id=2), 3.0)]
    made = drain(waiting, agents, ShopRules(), NOW, random.Random(0))
    assert [(cid, d.reason, d.agent_id) for cid, d in made] == \
        [(1, "recent", 3), (2, "strategy", 1), (3, "exclusive", 2)]


def test_drain_with_nobody_online_assigns_nothing():
    made = drain(QUEUE, [agent(1, "busy"), agent(2, "offline")], ShopRules(), NOW)
    assert made == []


def test_drain_full_group_does_not_block_the_ones_behind():
    rules = ShopRules(routes=(RouteRule({"category": "menswear"}, 10),))
    agents = [agent(1, max=2), agent(2, max=1, active=1, groups=(10,))]
    waiting = [Waiting(Request(1, context={"category": "menswear"}), 1.0),
               Waiting(Request(2, group_id=10), 2.0),
               Waiting(Request(3), 3.0), Waiting(Request(4), 4.0), Waiting(Request(5), 5.0)]
    made = drain(waiting, agents, rules, NOW, random.Random(0))
    assert [(cid, d.agent_id, d.group_id) for cid, d in made] == [(3, 1, None), (4, 1, None)]


def test_drain_spreads_by_strategy_as_it_goes():
    agents = [agent(1, max=10, active=2), agent(2, max=10, active=0), agent(3, max=10, active=1)]
    waiting = [Waiting(Request(n), float(n)) for n in range(6)]
    made = drain(waiting, agents, ShopRules(strategy="least_load"), NOW, random.Random(0))
    assert Counter(d.agent_id for _, d in made) == {1: 1, 2: 3, 3: 2}  # ends at 3 / 3 / 3


def test_round_robin_rotates_within_one_drain():
    agents = [agent(1, max=50, active=9), agent(2, max=50, active=0), agent(3, max=50, active=4)]
    waiting = [Waiting(Request(n), float(n)) for n in range(9)]
    made = drain(waiting, agents, ShopRules(strategy="round_robin"), NOW, random.Random(0))
    assert [d.agent_id for _, d in made] == [1, 2, 3] * 3


def test_round_robin_rotates_across_drains():
    agents = {1: agent(1, max=100, active=20, last=300.0), 2: agent(2, max=100, last=100.0),
              3: agent(3, max=100, active=5, last=200.0)}
    rules, rng, sequence = ShopRules(strategy="round_robin"), random.Random(0), []
    for minute in range(30):
        now = NOW + timedelta(minutes=minute)
        [(_, decision)] = drain([Waiting(Request(minute), 0.0)], agents.values(), rules, now, rng)
        chosen = agents[decision.agent_id]
        agents[chosen.id] = replace(chosen, active=chosen.active + 1, last_assigned_at=now.timestamp())
        sequence.append(chosen.id)
    assert sequence == [2, 3, 1] * 10


def random_snapshot(rng: random.Random) -> tuple[list[AgentState], list[Waiting], ShopRules]:
    agents = []
    for n in range(1, rng.randint(1, 8) + 1):
        cap = rng.randint(1, 5)
        agents.append(agent(n, rng.choice(["online", "online", "online", "busy", "offline"]),
                            max=cap, active=rng.randint(0, cap), weight=rng.randint(1, 4),
                            groups=tuple(g for g in (1, 2, 3) if rng.random() < 0.4),
                            last=rng.choice([None, float(rng.randint(0, 1000))])))
    waiting = []
    for cid in range(rng.randint(0, 30)):
        maybe = lambda: rng.choice([None, None, rng.randint(1, 9)])  # noqa: E731
        waiting.append(Waiting(Request(
            cid, context=rng.choice([{}, {"category": "menswear"}, {"scene": "vip"}]),
            chosen_agent_id=maybe(), recent_agent_id=maybe(), exclusive_agent_id=maybe(),
            group_id=rng.choice([None, None, 1, 2, 3, 4]), exclude_agent_id=maybe()),
            float(rng.randint(0, 50))))
    rules = ShopRules(strategy=rng.choice(STRATEGIES), queue_order=rng.choice(["fifo", "lifo"]),
                      customer_chooses_agent=rng.random() < 0.5,
                      routes=(RouteRule({"category": "menswear"}, 1), RouteRule({"scene": "vip"}, 4)))
    return agents, waiting, rules


def test_drain_never_exceeds_capacity_and_leaves_no_one_it_could_serve():
    rng = random.Random(1234)
    total = 0
    for _ in range(500):
        agents, waiting, rules = random_snapshot(rng)
        made = drain(waiting, agents, rules, NOW, rng)
        per_agent = Counter(d.agent_id for _, d in made)
        for a in agents:
            assert per_agent[a.id] <= (max(a.room, 0) if a.status == "online" else 0)
        assert len({cid for cid, _ in made}) == len(made)  # nobody twice
        by_cid = {w.request.conversation_id: w.request for w in waiting}
        order = [w.request.conversation_id for w in queue_order(waiting, rules.queue_order)]
        assert [cid for cid, _ in made] == [c for c in order if c in dict(made)]
        for cid, d in made:
            assert d.agent_id != by_cid[cid].exclude_agent_id
        # Capacity only shrinks in a drain, so whoever was skipped is still unservable after it.
        after = [replace(a, active=a.active + per_agent[a.id]) for a in agents]
        for cid in set(by_cid) - set(dict(made)):
            assert decide(by_cid[cid], after, rules, NOW, rng).action != "assign"
        total += len(made)
    assert total > 500  # the property was exercised, not vacuous
