"""Guards re-checked under the shop lock, where a sweep's earlier read may be stale."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from bridge.conversations import lifecycle
from bridge.infra import db
from bridge.models import Conversation, Message
from tests.factories import login, post_acme, text_xml


def _active_conversation(app, client) -> int:
    alice = login(client)
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})
    post_acme(client, text_xml("o-guard", "在吗"))
    client.patch("/api/v1/me", headers=alice, json={"status": "online"})  # drains inline
    [item] = client.get("/api/v1/conversations?state=active", headers=alice).get_json()["items"]
    client.post(f"/api/v1/conversations/{item['id']}/messages", headers=alice, json={"text": "在的"})
    return item["id"]


def test_idle_end_is_refused_when_the_shopper_wrote_after_the_sweep_looked(app, client, shop):
    cid = _active_conversation(app, client)
    post_acme(client, text_xml("o-guard", "还有个问题"))  # arrives after the sweep read the ids
    cutoff = datetime.now(timezone.utc) - timedelta(minutes=15)
    with app.app_context(), db.new_session(app) as s:
        with pytest.raises(lifecycle.Conflict, match="no longer idle"):
            lifecycle.end(s, cid, datetime.now(timezone.utc), reason="idle", idle_before=cutoff)
        s.rollback()
        assert s.get(Conversation, cid).state == "active"


def test_forced_offline_with_nobody_else_tells_the_shopper_where_they_stand(app, client, shop):
    cid = _active_conversation(app, client)
    resp = client.patch("/api/v1/me", headers=login(client), json={"status": "offline", "force": True})
    assert resp.status_code == 200
    with db.new_session(app) as s:
        conversation = s.get(Conversation, cid)
        assert (conversation.state, conversation.agent_id) == ("waiting", None)
        notices = s.scalars(select(Message.raw).where(Message.conversation_id == cid,
                                                      Message.sender == "system")).all()
    assert [n["notice"] for n in notices] == ["welcome", "no_agent"]
