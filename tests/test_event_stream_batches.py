"""A stream passes on what one read of the log found in one write, and after such a read waits a
moment before the next, so a busy shop's events cost each stream a read per batch, not per event
(events/stream.py; the figures are in bench/README.md, issue 11)."""
from __future__ import annotations

import itertools
import json

import pytest

from bridge.events import log as event_log
from bridge.events import stream as events_stream
from bridge.events.publish import publish
from bridge.keys import events_log
from bridge.visibility import Viewer

SHOP = 92_011  # a shop id no other test's log uses
BOB = Viewer(shop_id=SHOP, agent_id=2, is_admin=False)


@pytest.fixture
def log_client(redis_url):
    if redis_url:
        from bridge.infra.redisconn import connect, connect_for_streams

        client = connect_for_streams(connect(redis_url), 1)
    else:
        import fakeredis

        client = fakeredis.FakeRedis()
    client.delete(events_log(SHOP))
    yield client
    client.delete(events_log(SHOP))


def queue_event(text: str) -> dict:
    return {"type": "message.created", "audience": {"agents": [], "queue": True}, "text": text}


def texts(chunk: str) -> list[str]:
    return [json.loads(line[len("data: "):])["text"] for line in chunk.split("\n")
            if line.startswith("data: ") and '"text"' in line]


def test_the_events_one_read_finds_go_out_in_one_write(log_client):
    ticks = itertools.count(0, 0.25)
    frames = events_stream.stream(log_client, BOB, event_log.resume(log_client, SHOP, None), max_seconds=1,
                                  clock=lambda: next(ticks))
    next(frames), next(frames)  # retry and connected; ready
    publish(log_client, SHOP, [queue_event("一"), {**queue_event("not bob's"), "audience": {
        "agents": [1], "queue": False}}, queue_event("二"), queue_event("三")])
    chunk = next(frames)
    assert texts(chunk) == ["一", "二", "三"]  # in order, without the one bob may not see
    assert chunk.count("id: ") == 3


def test_a_read_that_found_events_is_followed_by_a_pause_and_an_empty_one_is_not(log_client, monkeypatch):
    pauses: list[float] = []
    reads: list[list] = []
    real_read = event_log.read

    def counted_read(*args, **kwargs):
        reads.append(real_read(*args, **kwargs))
        return reads[-1]
    monkeypatch.setattr(event_log, "read", counted_read)
    ticks = itertools.count(0, 0.25)
    frames = events_stream.stream(log_client, BOB, event_log.resume(log_client, SHOP, None), max_seconds=1.1,
                                  clock=lambda: next(ticks), pause=pauses.append)
    next(frames), next(frames)
    publish(log_client, SHOP, [queue_event("一"), queue_event("二")])
    list(frames)
    assert len(reads) >= 2 and [len(r) for r in reads] == [2] + [0] * (len(reads) - 1)
    assert pauses == [events_stream.COALESCE_SECONDS]  # after the read of two, not after the empty ones
    assert 0 < events_stream.COALESCE_SECONDS <= 0.05  # a pause no agent notices
