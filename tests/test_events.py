"""The live-event publisher: written without waiting for Redis, and back after Redis drops it."""
from __future__ import annotations

import redis

from bridge.events.publish import Publisher
from bridge.keys import events_channel


def test_publisher_sends_without_replies_and_replaces_a_connection_the_server_closed(real_redis_url):
    client = redis.Redis.from_url(real_redis_url)
    publisher = Publisher(client)
    listener = client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe("kefu-test-events")
    listener.get_message(timeout=1)
    try:
        publisher.publish("kefu-test-events", "one")
        assert listener.get_message(timeout=2)["data"] == b"one"
        host, port = publisher._conn._sock.getsockname()[:2]
        [mine] = [c for c in client.client_list() if c["addr"] == f"{host}:{port}"]
        assert "r" not in mine.get("flags", "")  # replies off: Redis writes nothing back
        assert not publisher._conn.can_read()

        client.client_kill_filter(_id=mine["id"])  # as a Redis restart would
        for n in range(3):
            publisher.publish("kefu-test-events", f"after-{n}")
        got = [listener.get_message(timeout=2) for _ in range(3)]
        assert [m["data"] for m in got if m] == [b"after-0", b"after-1", b"after-2"]
    finally:
        listener.close()
        client.close()


def test_the_in_process_stand_in_publishes_directly(tmp_path, sqlite_template):
    """Without REDIS_URL (`make run`) there is no CLIENT REPLY: the app publishes through its
    stand-in client, and an agent's subscription still gets the push's events."""
    import json
    import shutil
    import time

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
    listener = app.extensions["redis"].pubsub(ignore_subscribe_messages=True)
    listener.subscribe(events_channel(shop.id, app.extensions["redis"]))
    try:
        assert post_acme(app.test_client(), text_xml("o-standin", "我要问个问题")).status_code == 200
        deadline = time.monotonic() + 5
        while (message := listener.get_message(timeout=0.5)) is None:  # None: the subscribe reply
            assert time.monotonic() < deadline, "no event published"
        queued, created = json.loads(message["data"])
        assert (queued["type"], created["type"]) == ("conversation.queued", "message.created")
        with db.new_session(app) as s:  # the event names its shopper (the widget's stream will follow it)
            customer_id = s.scalar(select(Customer.id).where(Customer.external_id == "o-standin"))
        assert created["audience"] == {"agents": [], "queue": True, "shopper": customer_id}
    finally:
        listener.close()
        db.dispose(app)
