"""A widget shopper's live feed: a small Redis stream per shopper, read by their open widgets.

Every shopper has a stream of their own, so an open widget wakes only for what is its own:
two thousand idle widgets of a shop taking fifty replies a second are fifty wake-ups a second,
not a hundred thousand (as reading the shop's event log would be). The entry id
(`1733212345678-0`) is the SSE event id; a widget that reconnects names the last one it saw
and reads on from there. A feed keeps its newest KEPT entries for KEEP_SECONDS after the last;
a widget that asks for more than that is told to reload (`Resume.gap`), and the conversation's
messages are in the database all along.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

KEPT = 200
KEEP_SECONDS = 7 * 24 * 3600
FIELD = "e"
_ID = re.compile(r"\A([0-9]{1,20})-([0-9]{1,20})\Z")


def key(prefix: str, channel_id: int, shopper_id: str) -> str:
    """The shopper's feed, under the shop's key prefix (bridge/keys.py)."""
    return f"{prefix}:widget:{channel_id}:feed:{shopper_id}"


def append(redis: Any, feed: str, event_type: str, data: dict[str, Any]) -> str:
    """Add one event; returns its id. Raises redis's errors (the caller decides)."""
    pipe = redis.pipeline(transaction=False)
    pipe.xadd(feed, {FIELD: json.dumps({"type": event_type, "data": data}, ensure_ascii=False)},
              maxlen=KEPT, approximate=True)
    pipe.expire(feed, KEEP_SECONDS)
    entry_id, _ = pipe.execute()
    return _text(entry_id)


def parse_id(value: str | None) -> tuple[int, int] | None:
    match = _ID.match(value or "")
    return (int(match[1]), int(match[2])) if match else None


@dataclass(frozen=True)
class Resume:
    position: str  # read the entries after this one
    gap: bool = False  # entries the client asked for are gone: it reloads what it shows


def position(redis: Any, feed: str) -> str:
    """The feed's newest id now ("0-0" for a feed never written or expired)."""
    try:
        return _text(redis.xinfo_stream(feed)["last-generated-id"])
    except Exception as exc:  # noqa: BLE001 - redis.ResponseError: no such key
        if type(exc).__name__ == "ResponseError":
            return "0-0"
        raise


def resume(redis: Any, feed: str, last_event_id: str | None) -> Resume:
    """Where a widget that last saw LAST_EVENT_ID reads from (None: from now on)."""
    try:
        info = redis.xinfo_stream(feed)
    except Exception as exc:  # noqa: BLE001 - no such key: an empty feed
        if type(exc).__name__ != "ResponseError":
            raise
        info = None
    tail = _text(info["last-generated-id"]) if info else "0-0"
    if last_event_id is None:
        return Resume(tail)
    asked = parse_id(last_event_id)
    if asked is None or asked > parse_id(tail):
        # Not an id of this feed, or the feed expired and started over: reload.
        return Resume(tail, gap=asked != (0, 0))
    first = info and info.get("first-entry")
    trimmed = info is not None and info.get("entries-added", info["length"]) > info["length"]
    if first and trimmed and asked < parse_id(_text(first[0])):
        return Resume(tail, gap=True)
    return Resume(last_event_id)


def read(redis: Any, feed: str, after: str, block_ms: int | None = None,
         count: int = 100) -> list[tuple[str, str, dict[str, Any]]]:
    """(id, type, data) of the entries after AFTER, oldest first; waits up to BLOCK_MS for one."""
    answer = redis.xread({feed: after}, count=count, block=block_ms)
    if not answer:
        return []
    [(_, entries)] = answer
    events = []
    for entry_id, fields in entries:
        event = json.loads(fields[FIELD.encode()] if FIELD.encode() in fields else fields[FIELD])
        events.append((_text(entry_id), event["type"], event["data"]))
    return events


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
