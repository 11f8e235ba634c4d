"""Live events stay within their Redis database number.

Redis's pub/sub channels are one namespace for the whole server, whatever db a client selects:
two installs (or two test runs) sharing a server on different db numbers used to hear each
other's shop 1. The channel now carries the db number on both the publishing and the
subscribing side (keys.events_channel).
"""
from __future__ import annotations

import itertools

from bridge.events.publish import Publisher, publish
from bridge.events.stream import stream
from bridge.infra.redisconn import connect
from bridge.visibility import Viewer

OTHER_DB = 13  # left to benchmarks and by-hand runs (conftest); pub/sub writes no keys there


def event(text: str) -> dict:
    return {"type": "message.created", "audience": {"agents": [], "queue": True}, "text": text}


def stepping():
    """A clock that moves a quarter second each time it is read: a stream reads a few times."""
    ticks = itertools.count(0, 0.25)
    return lambda: next(ticks)


def test_two_installs_on_different_db_numbers_do_not_hear_each_other(real_redis_url):
    ours = connect(real_redis_url)
    theirs = connect(real_redis_url.rsplit("/", 1)[0] + f"/{OTHER_DB}")
    assert ours.connection_pool.connection_kwargs["db"] != OTHER_DB
    admin = Viewer(shop_id=1, agent_id=1, is_admin=True)  # the same shop id in both installs
    our_frames = stream(ours, admin, max_seconds=1, clock=stepping())
    their_frames = stream(theirs, admin, max_seconds=1, clock=stepping())
    try:
        assert next(our_frames) == next(their_frames) == ": connected\n\n"  # both subscribed
        publish(Publisher(theirs), 1, [event("theirs")])
        publish(Publisher(ours), 1, [event("ours")])
        heard_here = [f for f in our_frames if f.startswith("event:")]  # until max_seconds
        heard_there = [f for f in their_frames if f.startswith("event:")]
    finally:
        our_frames.close()
        their_frames.close()
        ours.close()
        theirs.close()
    assert len(heard_here) == 1 and '"ours"' in heard_here[0]
    assert len(heard_there) == 1 and '"theirs"' in heard_there[0]


def test_the_channel_names_the_db_number(real_redis_url):
    from bridge.keys import events_channel

    client = connect(real_redis_url)
    db = client.connection_pool.connection_kwargs["db"]
    assert events_channel(7, client) == f"{{shop:7}}:events:db{db}"
    assert events_channel(7, Publisher(client)) == events_channel(7, client)
