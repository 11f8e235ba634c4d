"""Live events stay within their Redis database number.

Two installs (or two test runs) sharing a Redis server on different db numbers used to hear
each other's shop 1 when events went over pub/sub, whose channels are server-wide. The
shop's event log is a key (events/log.py), so it lives in its own database.
"""
from __future__ import annotations

import itertools

from bridge.events.log import resume
from bridge.events.publish import Publisher, publish
from bridge.events.stream import stream
from bridge.infra.redisconn import connect, connect_for_streams
from bridge.keys import events_log
from bridge.visibility import Viewer

OTHER_DB = 13  # left to benchmarks and by-hand runs (conftest)
SHOP = 91_001  # no other test's shop id


def event(text: str) -> dict:
    return {"type": "message.created", "audience": {"agents": [], "queue": True}, "text": text}


def stepping():
    """A clock that moves a quarter second each time it is read: a stream reads a few times."""
    ticks = itertools.count(0, 0.25)
    return lambda: next(ticks)


def test_two_installs_on_different_db_numbers_do_not_hear_each_other(real_redis_url):
    ours = connect_for_streams(connect(real_redis_url), 1)
    theirs = connect_for_streams(connect(real_redis_url.rsplit("/", 1)[0] + f"/{OTHER_DB}"), 1)
    assert ours.connection_pool.connection_kwargs["db"] != OTHER_DB
    for client in (ours, theirs):
        client.delete(events_log(SHOP))
    admin = Viewer(shop_id=SHOP, agent_id=1, is_admin=True)  # the same shop id in both installs
    our_frames = stream(ours, admin, resume(ours, SHOP, None), max_seconds=2, clock=stepping())
    their_frames = stream(theirs, admin, resume(theirs, SHOP, None), max_seconds=2, clock=stepping())
    try:
        publish(Publisher(theirs), SHOP, [event("theirs")])
        publish(Publisher(ours), SHOP, [event("ours")])
        heard_here = [f for f in our_frames if "\nevent: message.created" in f]  # until max_seconds
        heard_there = [f for f in their_frames if "\nevent: message.created" in f]
    finally:
        our_frames.close()
        their_frames.close()
        for client in (ours, theirs):
            client.delete(events_log(SHOP))
            client.close()
    assert len(heard_here) == 1 and '"ours"' in heard_here[0]
    assert len(heard_there) == 1 and '"theirs"' in heard_there[0]
