"""A shop's live events, kept a while in a Redis stream so a client that was away gets them.

One stream entry per event; the entry's id (`1733212345678-0`, monotonic per shop) is the
event's id on the SSE stream. A reconnecting client names the last id it saw
(`Last-Event-ID`) and reads on from there; when entries after it have already been trimmed
(the stream keeps the newest EVENTS_KEPT), it is told to reload instead (`Resume.gap`).

Streams are keys, so unlike pub/sub channels they live in the client's database number: two
installs on one Redis server never see each other's events.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import redis

from bridge import keys

Event = dict[str, Any]

EVENTS_KEPT = 10_000  # per shop: minutes of a busy shop's events, hours of a quiet one's
FIELD = "e"
_ID = re.compile(r"\A([0-9]{1,20})-([0-9]{1,20})\Z")  # ASCII digits only


def xadd_command(shop_id: int, event: Event) -> tuple:
    """The XADD that appends EVENT, trimming the stream (approximately, so cheaply) as it goes."""
    return ("XADD", keys.events_log(shop_id), "MAXLEN", "~", EVENTS_KEPT, "*",
            FIELD, json.dumps(event, ensure_ascii=False))


def append(client: redis.Redis, shop_id: int, events: Iterable[Event]) -> None:
    """Append through an ordinary client (one round trip for the lot)."""
    pipe = client.pipeline(transaction=False)
    for event in events:
        pipe.execute_command(*xadd_command(shop_id, event))
    pipe.execute()


def parse_id(value: str | None) -> tuple[int, int] | None:
    """An event id as a comparable pair; None for anything that is not one."""
    match = _ID.match(value or "")
    return (int(match[1]), int(match[2])) if match else None


@dataclass(frozen=True)
class Resume:
    """Where a stream starts reading: after `position`; `gap` if events the client asked for
    are gone (or its id is not one this stream gave out) and it must reload what it shows."""

    position: str
    gap: bool = False


def resume(client: redis.Redis, shop_id: int, last_event_id: str | None) -> Resume:
    """Where to read from for a client that last saw LAST_EVENT_ID (None: a new client,
    which starts at the newest event)."""
    try:
        info = client.xinfo_stream(keys.events_log(shop_id))
    except redis.ResponseError:  # no stream yet: no event ever published for the shop
        info = None
    tail = _text(info["last-generated-id"]) if info else "0-0"
    if last_event_id is None:
        return Resume(tail)
    asked = parse_id(last_event_id)
    if asked is None or asked > parse_id(tail):
        return Resume(tail, gap=True)
    first = info and info.get("first-entry")
    trimmed = info is not None and info.get("entries-added", info["length"]) > info["length"]
    if first and trimmed and asked < parse_id(_text(first[0])):
        return Resume(tail, gap=True)
    return Resume(last_event_id)


def read(client: redis.Redis, shop_id: int, after: str, block_ms: int | None = None,
         count: int = 500) -> list[tuple[str, Event]]:
    """The events after AFTER, oldest first; waits up to BLOCK_MS for one when there is none."""
    answer = client.xread({keys.events_log(shop_id): after}, count=count, block=block_ms)
    if not answer:
        return []
    [(_, entries)] = answer
    return [(_text(entry_id), json.loads(fields[FIELD.encode()])) for entry_id, fields in entries]


class Listener:
    """The shop's events from now on, for tools and tests that watch what the bridge tells."""

    def __init__(self, client: redis.Redis, shop_id: int):
        self.client, self.shop_id = client, shop_id
        self.position = resume(client, shop_id, None).position

    def events(self, timeout: float = 0.2) -> list[Event]:
        """The events published since the last call; waits up to TIMEOUT for one."""
        got = read(self.client, self.shop_id, self.position, block_ms=max(1, int(timeout * 1000)))
        if got:
            self.position = got[-1][0]
        return [event for _, event in got]


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
