"""A widget stream keeps its slots (bridge/events/slots.py) renewed at every beat, also while its
feed never falls quiet: before, it renewed only after a read that waited a whole beat for
nothing, so a chat busy for a minute (typing on and off, messages) let its lease lapse and the
stream stopped counting against the shopper's and the address's limits."""
from __future__ import annotations

import itertools

from adapters.widget.feed import Resume
from bridge.web.widget import live


class Lease:
    renewed = 0

    def renew(self) -> None:
        self.renewed += 1


def test_a_stream_whose_feed_is_never_quiet_still_renews_its_lease(monkeypatch):
    clock = itertools.count(0, 5.0)  # each look at the clock is 5 s on: three reads to a beat
    monkeypatch.setattr(live.time, "monotonic", lambda: next(clock))
    ids = itertools.count(1)

    def busy(after: str, wait_ms: int):  # always something new: the read never waits
        return [(f"{next(ids)}-0", "typing", {"typing": True})]

    lease = Lease()
    frames = list(live._stream(busy, Resume("0-0"), lease, limit=130.0))
    assert sum("event: typing" in f for f in frames) >= 5
    assert not any("heartbeat" in f for f in frames)
    assert lease.renewed >= 3  # 130 s of a busy feed: well past LEASE_SECONDS (60)


def test_an_idle_stream_renews_at_every_beat(monkeypatch):
    clock = itertools.count(0, 7.5)  # each read waits a whole beat (two looks at the clock)
    monkeypatch.setattr(live.time, "monotonic", lambda: next(clock))
    lease = Lease()
    frames = list(live._stream(lambda after, wait_ms: [], Resume("0-0"), lease, limit=100.0))
    beats = sum("heartbeat" in f for f in frames)
    assert beats >= 3 and lease.renewed == beats
