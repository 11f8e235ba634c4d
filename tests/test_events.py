"""The live-event publisher: written to the shop's log without waiting for Redis, and back after Redis drops it."""
from __future__ import annotations

import os
import time

import redis

from bridge.events.log import Listener, read
from bridge.events.publish import Publisher, publish
from bridge.keys import events_log


def test_publisher_writes_without_replies_and_replaces_a_connection_the_server_closed(real_redis_url):
    client = redis.Redis.from_url(real_redis_url)
    publisher = Publisher(client)
    shop_id = 90_000 + os.getpid() % 10_000  # no other test's shop
    client.delete(events_log(shop_id))
    try:
        publish(publisher, shop_id, [event("one")])
        assert texts(client, shop_id, 1) == ["one"]
        host, port = publisher._conn._sock.getsockname()[:2]
        [mine] = [c for c in client.client_list() if c["addr"] == f"{host}:{port}"]
        assert "r" not in mine.get("flags", "")  # replies off: Redis writes nothing back
        assert not publisher._conn.can_read()

        client.client_kill_filter(_id=mine["id"])  # as a Redis restart would
        for n in range(3):
            publish(publisher, shop_id, [event(f"after-{n}")])
        publish(publisher, shop_id, [event("a"), event("b")])  # one write, an entry each
        assert texts(client, shop_id, 6) == ["one", "after-0", "after-1", "after-2", "a", "b"]
    finally:
        client.delete(events_log(shop_id))
        client.close()


def event(text: str) -> dict:
    return {"type": "message.created", "audience": {"agents": [], "queue": True}, "text": text}


def texts(client, shop_id: int, count: int) -> list[str]:
    """The first COUNT events of the shop's log, once the writes (not waited for) have landed;
    the deadline only bounds a failure."""
    deadline = time.monotonic() + 5
    while len(got := [e["text"] for _, e in read(client, shop_id, "0-0")]) < count:
        assert time.monotonic() < deadline, got
        time.sleep(0.01)
    return got


def test_the_in_process_stand_in_publishes_directly(tmp_path, sqlite_template):
    """Without REDIS_URL (`make run`) there is no CLIENT REPLY: the app publishes through its
    stand-in client, and an agent's subscription still gets the push's events."""
    import shutil

    from sqlalchemy import select

    from bridge.infra import db
    from bridge.models import Customer
    from tests.conftest import make_app
    from tests.factories import load_shop, post_acme, shop_doc, text_xml

    shutil.copy(sqlite_template, tmp_path / "kefu.sqlite3")
    app = make_app(f"sqlite:///{tmp_path / 'kefu.sqlite3'}", None)
    shop = load_shop(app, shop_doc())
    assert not Publisher.supported(app.extensions["redis"])
    assert app.extensions["events_publisher"] is app.extensions["redis"]
    listener = Listener(app.extensions["redis"], shop.id)
    try:
        assert post_acme(app.test_client(), text_xml("o-standin", "我要问个问题")).status_code == 200
        deadline = time.monotonic() + 5
        while not (heard := listener.events(timeout=0.5)):
            assert time.monotonic() < deadline, "no event published"
        queued, created = heard
        assert (queued["type"], created["type"]) == ("conversation.queued", "message.created")
        with db.new_session(app) as s:  # the event names its shopper (the widget's stream will follow it)
            customer_id = s.scalar(select(Customer.id).where(Customer.external_id == "o-standin"))
        assert created["audience"] == {"agents": [], "queue": True, "shopper": customer_id}
    finally:
        db.dispose(app)
