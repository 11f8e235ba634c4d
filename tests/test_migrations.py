"""The schema only through Alembic: the migrated database matches the models exactly."""
from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from bridge.schema import metadata


def test_migrations_match_the_models(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    engine.dispose()
    assert diff == [], f"models and migrations differ; write a revision: {diff}"


def test_downgrade_to_nothing_and_back(tmp_path):
    from alembic import command

    from bridge.cli import alembic_config

    cfg = alembic_config(f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}")
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    command.upgrade(cfg, "head")


def test_0004_carries_served_conversations_and_answered_messages_over(database_url):
    """A conversation that had an agent becomes one stint; a message the robot answered
    expects no reply; an answered message is credited to the conversation's agent, timed
    from the later of the message and the assignment."""
    from alembic import command
    from sqlalchemy import text

    from bridge.cli import alembic_config

    cfg = alembic_config(database_url.replace("postgresql://", "postgresql+psycopg://"))
    command.downgrade(cfg, "0003")
    engine = create_engine(database_url.replace("postgresql://", "postgresql+psycopg://"))
    t0, t1, t2 = "2026-11-01 10:00:00", "2026-11-01 10:05:00", "2026-11-01 10:06:30"
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO shops (id, key, name, timezone, settings, config_version, created_at,"
                              " updated_at) VALUES (1, 's', 'S', 'Asia/Shanghai', '{}', 1, :t, :t)"), {"t": t0})
            conn.execute(text("INSERT INTO channels (id, shop_id, kind, key, settings, enabled) "
                              "VALUES (1, 1, 'wechat_oa', 'c', '{}', true)"))
            conn.execute(text("INSERT INTO agents (id, shop_id, username, name, password_hash, role, status,"
                              " max_concurrent, weight, active, token_version, created_at) "
                              "VALUES (1, 1, 'a', 'A', '-', 'agent', 'online', 5, 1, true, 1, :t)"), {"t": t0})
            conn.execute(text("INSERT INTO customers (id, shop_id, channel_id, external_id, window_quota, created_at)"
                              " VALUES (1, 1, 1, 'o', 0, :t)"), {"t": t0})
            conn.execute(text("INSERT INTO conversations (id, shop_id, channel_id, customer_id, state, agent_id,"
                              " assigned_at, first_response_at, created_at) "
                              "VALUES (1, 1, 1, 1, 'active', 1, :t1, :t2, :t0)"), {"t0": t0, "t1": t1, "t2": t2})
            for id_, sender, direction, responded in ((1, "customer", "in", t2), (2, "bot", "out", None),
                                                      (3, "customer", "in", None)):
                conn.execute(text("INSERT INTO messages (id, shop_id, conversation_id, direction, sender, type,"
                                  " attempts, responded_at, created_at, updated_at) "
                                  "VALUES (:id, 1, 1, :d, :s, 'text', 0, :r, :t, :t)"),
                             {"id": id_, "d": direction, "s": sender, "r": responded, "t": t0})
            conn.execute(text("INSERT INTO inbound_receipts (shop_id, channel_id, external_id, kind, customer_id,"
                              " message_id, reply_message_id, created_at) "
                              "VALUES (1, 1, 'm3', 'text', 1, 3, 2, :t)"), {"t": t0})
        command.upgrade(cfg, "head")
        with engine.connect() as conn:
            stint = conn.execute(text("SELECT seq, agent_id, how, released_at FROM assignments")).one()
            rows = conn.execute(text("SELECT id, expects_reply, responded_by, response_seconds FROM messages "
                                     "ORDER BY id")).all()
        assert tuple(stint) == (1, 1, "route", None)
        assert [tuple(r) for r in rows] == [(1, True, 1, 90.0), (2, None, None, None), (3, False, None, None)]
    finally:
        command.upgrade(cfg, "head")
        with engine.begin() as conn:  # leave the database as the other tests expect it
            for table in ("assignments", "inbound_receipts", "messages", "conversations", "customers",
                          "agents", "channels", "shops"):
                conn.execute(text(f"DELETE FROM {table}"))
        engine.dispose()
