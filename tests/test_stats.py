"""GET /api/v1/stats: per-agent first response, 3-minute response rate and ratings."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bridge.infra import db
from bridge.models import Message
from tests.factories import login, post_acme, text_xml


def test_stats_report_response_times_and_ratings(app, client, shop):
    alice = login(client)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})
    post_acme(client, text_xml("o-s1", "在吗"))
    post_acme(client, text_xml("o-s2", "有人吗"))
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})  # drains the queue inline
    first, second = sorted(c["id"] for c in client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"])
    # The second shopper's message waited 10 minutes before the answer.
    with db.new_session(app) as s:
        for m in s.scalars(select(Message).where(Message.conversation_id == second, Message.direction == "in")):
            m.created_at -= timedelta(minutes=10)
        s.commit()
    for cid in (first, second):
        assert client.post(f"/api/v1/conversations/{cid}/messages", headers=alice, json={"text": "在的"}).status_code == 201
    client.post(f"/api/v1/conversations/{first}/end", headers=alice)
    post_acme(client, text_xml("o-s1", "4 还行"))

    body = client.get("/api/v1/stats", headers=alice).get_json()
    [row] = body["items"]
    assert row["agent"] == "alice" and row["conversations"] == 2 and row["messages_answered"] == 2
    assert row["response_rate_3min"] == 1.0  # timed from assignment, which came after both messages
    assert (row["ratings"], row["avg_rating"]) == (1, 4.0)
    assert row["avg_first_response_seconds"] is not None

    assert client.get("/api/v1/stats", headers=login(client, "bob")).status_code == 403
    assert client.get("/api/v1/stats?since=yesterday", headers=alice).status_code == 400
