"""Retention at scale, on PostgreSQL: the purge deletes a large table's old rows a batch per
transaction, leaves the recent ones and the conversations, and a purge cut off part way
resumes at the next run with nothing half-done."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, text

from bridge.conversations import timers
from bridge.infra import db
from bridge.models import Conversation, InboundReceipt, Message
from tests.conftest import make_app
from tests.factories import load_shop, post_acme, shop_doc, text_xml

OLD, RECENT, BATCH = 20_000, 2_000, 2_000


@pytest.fixture
def big(pg_url, fake_wechat):
    """A shop keeping 30 days, one conversation with OLD messages from 40 days ago (each with
    its dedupe receipt) and RECENT ones from today."""
    app = make_app(pg_url, None, fake_wechat.url)
    doc = shop_doc()
    doc["shops"][0]["settings"]["retention_days"] = 30
    load_shop(app, doc)
    assert post_acme(app.test_client(), text_xml("o-big", "你好")).status_code == 200
    with db.new_session(app) as s:
        c = s.scalar(select(Conversation))
        params = {"shop": c.shop_id, "conv": c.id, "channel": c.channel_id, "customer": c.customer_id}
        for count, age in ((OLD, "40 days"), (RECENT, "1 hour")):
            s.execute(text(
                "INSERT INTO messages (shop_id, conversation_id, direction, sender, type, text, attempts, "
                "created_at, updated_at) SELECT :shop, :conv, 'in', 'customer', 'text', 'm' || n, 0, "
                f"now() - interval '{age}', now() FROM generate_series(1, {count}) n"), params)
        s.execute(text(
            "INSERT INTO inbound_receipts (shop_id, channel_id, external_id, kind, customer_id, message_id, "
            "created_at) SELECT :shop, :channel, 'old-' || id, 'text', :customer, id, created_at "
            "FROM messages WHERE created_at < now() - interval '30 days'"), params)
        s.commit()
    yield app
    db.dispose(app)


def counts(app) -> tuple[int, int, int]:
    cutoff = datetime.now(timezone.utc) - timedelta(days=30)
    with db.new_session(app) as s:
        return (s.scalar(select(func.count()).select_from(Message).where(Message.created_at < cutoff)),
                s.scalar(select(func.count()).select_from(Message).where(Message.created_at >= cutoff)),
                s.scalar(select(func.count()).select_from(InboundReceipt).where(InboundReceipt.created_at < cutoff)))


def test_a_large_purge_runs_in_bounded_transactions(big):
    commits = []
    with db.new_session(big) as s:
        real = s.commit
        s.commit = lambda: (commits.append(1), real())[1]
        purged = timers.purge_old_messages(s, datetime.now(timezone.utc), batch=BATCH)
    assert purged == OLD
    assert counts(big) == (0, RECENT + 1, 0)  # + the shopper's 你好
    assert len(commits) == OLD // BATCH + 1  # each batch, and the last that found nothing more
    with db.new_session(big) as s:
        assert s.scalar(select(func.count()).select_from(Conversation)) == 1


def test_a_purge_cut_off_part_way_resumes(big):
    class CutOff(Exception):
        pass

    with db.new_session(big) as s:
        real, done = s.commit, []

        def commit():
            if len(done) == 3:
                raise CutOff
            done.append(1)
            real()
        s.commit = commit
        with pytest.raises(CutOff):
            timers.purge_old_messages(s, datetime.now(timezone.utc), batch=BATCH)
        s.rollback()
    old, recent, receipts = counts(big)
    assert old == OLD - 3 * BATCH and recent == RECENT + 1
    assert receipts == old  # every surviving old message still has its receipt, no dangling one
    with db.new_session(big) as s:
        assert timers.purge_old_messages(s, datetime.now(timezone.utc), batch=BATCH) == old
    assert counts(big) == (0, RECENT + 1, 0)
