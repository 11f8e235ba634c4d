"""Daily service figures, as pure functions over rows already read (metrics/rows.py reads them).

No Flask, no session: the day a moment falls on is the shop's local calendar day, and every
figure is defined here once (README, Agent API, says the same in words) so that table tests
pin it without a database.
"""
from __future__ import annotations

import re
import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

FAST_REPLY_SECONDS = 180  # the 3-minute response rate (conversations/lifecycle.py has the same)
MAX_DAYS = 92  # a quarter: the page's widest range, and a bound on what one request reads
DEFAULT_DAYS = 7
SATISFIED = (4, 5)  # the scores that count as satisfied
FROM_QUEUE = ("route", "pick")  # how a stint that took the shopper from the queue began
# A day's local midnight must be a UTC time in years 1–9999 for any time zone, and so must the
# midnight that ends the range.
EARLIEST, LATEST = date(1, 1, 2), date(9999, 12, 30)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")  # ASCII digits: isdigit() would take ٣ and ²


class BadRange(ValueError):
    """The requested days are not a range this page answers; the message says why."""


@dataclass(frozen=True)
class Stint:
    """An agent's stint with a conversation; QUEUED_FROM: since when the shopper had waited in
    the queue for it (None: it did not come from the queue, or that moment is not known)."""

    agent_id: int
    conversation_id: int
    assigned_at: datetime
    first_response_at: datetime | None = None
    queued_from: datetime | None = None


@dataclass(frozen=True)
class Answer:
    """A shopper message that waited for a person, answered by AGENT_ID, SECONDS after it
    became that agent's to answer."""

    agent_id: int
    responded_at: datetime
    seconds: float


@dataclass(frozen=True)
class Rating:
    agent_id: int | None  # the agent the conversation ended with
    rated_at: datetime
    score: int


def parse_day(raw: str, name: str) -> date:
    if not _DAY.fullmatch(raw):
        raise BadRange(f"{name} must be a date YYYY-MM-DD")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRange(f"{name} is not a date of the calendar: {raw}") from None


def day_range(raw_from: str | None, raw_to: str | None, today: date) -> list[date]:
    """The days from..to, both included. Without `to`: up to today (the shop's); without
    `from`: the DEFAULT_DAYS days that end with `to`. At most MAX_DAYS days."""
    last = parse_day(raw_to, "to") if raw_to is not None else today
    try:
        first = parse_day(raw_from, "from") if raw_from is not None else last - timedelta(days=DEFAULT_DAYS - 1)
    except OverflowError:  # the default's 7 days would start before year 1
        first = date.min
    if not (EARLIEST <= first and last <= LATEST):
        raise BadRange(f"days from {EARLIEST} to {LATEST} only")
    if first > last:
        raise BadRange(f"from ({first}) is after to ({last})")
    count = (last - first).days + 1
    if count > MAX_DAYS:
        raise BadRange(f"at most {MAX_DAYS} days at once, not {count}")
    return [first + timedelta(days=n) for n in range(count)]


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The day's local midnight, in UTC as the columns hold it."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def span(days: Sequence[date], tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the local days; a query reads the whole range at once."""
    return day_start(days[0], tz), day_start(days[-1] + timedelta(days=1), tz)


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def queued_from(how: str, seq: int, queued_at: datetime | None, assigned_at: datetime,
                previous_released_at: datetime | None) -> datetime | None:
    """Since when the shopper of a stint waited in the queue, or None.

    Only stints that took the shopper from the queue (routing, or an agent's pick) have a
    wait; a transfer to an agent or a reassignment passes the shopper on directly. The first
    stint waited from the conversation's `queued_at`; a later one from the release of the one
    before (a transfer to a group or a requeue put the shopper back). The conversation keeps
    only its latest `queued_at`: a first stint that began before it (the conversation was
    transferred to a group later) has no known start, as has a pick from the robot.
    """
    if how not in FROM_QUEUE:
        return None
    start = queued_at if seq == 1 else previous_released_at
    return start if start is not None and start <= assigned_at else None


def nearest_rank(values: Sequence[float], percent: int) -> float | None:
    """The PERCENT-th percentile by nearest rank: the smallest value that at least PERCENT %
    of the values do not exceed — always one of the values. None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (percent * len(ordered) + 99) // 100  # ceil(p·n/100) in integers: 0.9·70 is 63.000…01
    return ordered[max(rank, 1) - 1]


def median(values: Sequence[float]) -> float | None:
    """The middle value; of an even number, the mean of the two middle ones."""
    return statistics.median(values) if values else None


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass
class _Tally:
    """What one day of one agent (or of the shop) adds up to."""

    conversations: set[int] = field(default_factory=set)
    first_responses: list[float] = field(default_factory=list)
    answered: int = 0
    fast: int = 0
    scores: list[int] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)

    def row(self, day: date) -> dict:
        satisfied = sum(score in SATISFIED for score in self.scores)
        return {
            "date": day.isoformat(), "conversations": len(self.conversations),
            "first_response_median": _seconds(median(self.first_responses)),
            "first_response_p90": _seconds(nearest_rank(self.first_responses, 90)),
            "answered": self.answered, "response_rate_3min": _share(self.fast, self.answered),
            "ratings": len(self.scores), "satisfaction": _share(satisfied, len(self.scores)),
            "queue_wait_median": _seconds(median(self.waits)),
            "queue_wait_p90": _seconds(nearest_rank(self.waits, 90)),
        }


def daily_figures(days: Sequence[date], tz: ZoneInfo, stints: Iterable[Stint], answers: Iterable[Answer],
                  ratings: Iterable[Rating], agent_ids: Iterable[int] = ()) -> tuple[list[dict], dict[int, list[dict]]]:
    """The shop's row for each day, and each agent's (those of AGENT_IDS even without figures).

    Each figure falls on the local day of its own moment: a stint's conversation, first
    response and queue wait on the day the stint began; an answer on the day it was given; a
    rating on the day it was given. The shop's row pools every agent's (a conversation two
    agents served that day counts once) plus ratings of conversations no agent ended with.
    """
    index = {day: n for n, day in enumerate(days)}
    shop = [_Tally() for _ in days]
    agents: dict[int, list[_Tally]] = defaultdict(lambda: [_Tally() for _ in days])
    for agent_id in agent_ids:
        agents[agent_id] = [_Tally() for _ in days]

    def tallies(agent_id: int | None, moment: datetime) -> tuple[_Tally, ...]:
        n = index.get(local_day(moment, tz))
        if n is None:
            return ()
        return (shop[n],) if agent_id is None else (shop[n], agents[agent_id][n])

    for stint in stints:
        for tally in tallies(stint.agent_id, stint.assigned_at):
            tally.conversations.add(stint.conversation_id)
            if stint.first_response_at is not None:
                tally.first_responses.append(max(0.0, (stint.first_response_at - stint.assigned_at).total_seconds()))
            if stint.queued_from is not None:
                tally.waits.append((stint.assigned_at - stint.queued_from).total_seconds())
    for answer in answers:
        for tally in tallies(answer.agent_id, answer.responded_at):
            tally.answered += 1
            tally.fast += answer.seconds <= FAST_REPLY_SECONDS
    for rating in ratings:
        for tally in tallies(rating.agent_id, rating.rated_at):
            tally.scores.append(rating.score)
    return ([t.row(day) for day, t in zip(days, shop, strict=True)],
            {agent_id: [t.row(day) for day, t in zip(days, row, strict=True)] for agent_id, row in agents.items()})
