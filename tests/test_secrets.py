"""Secrets and shoppers' words stay out of logs and out of reach: statement parameters are
hidden from every log and error, the embedded default signs with a secret of its own, and
PostgreSQL never makes the bridge wait long."""
from __future__ import annotations

import stat

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bridge import config
from bridge.infra import db


def test_a_failed_statement_shows_no_parameters(app):
    """SQLAlchemy's part of an error never lists the parameters. (PostgreSQL's own DETAIL may
    quote a failing row; the bridge logs no exception text on its expected paths.)"""
    with db.new_session(app) as s, pytest.raises(DBAPIError) as failed:
        s.execute(text("SELECT id FROM no_such_table WHERE note = :note"), {"note": "顾客的秘密话"})
    assert "顾客的秘密话" not in str(failed.value)
    assert "SQL parameters hidden" in str(failed.value)


def test_postgresql_statements_and_connections_are_time_limited(pg_url, fake_wechat):
    from tests.conftest import make_app

    app = make_app(pg_url, None, fake_wechat.url)
    with db.new_session(app) as s:
        assert s.scalar(text("SHOW statement_timeout")) == f"{db.STATEMENT_TIMEOUT_MS // 1000}s"
    db.dispose(app)


def test_the_embedded_default_signs_with_a_random_secret_of_its_own(tmp_path, monkeypatch):
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    first = config.load(str(tmp_path / "one"))["SECRET_KEY"]
    assert len(first) >= 32
    assert config.load(str(tmp_path / "one"))["SECRET_KEY"] == first  # kept: tokens survive a restart
    assert config.load(str(tmp_path / "two"))["SECRET_KEY"] != first  # no two installs share one
    mode = (tmp_path / "one" / config.SECRET_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600
    assert "dev-only" not in open(config.__file__, encoding="utf-8").read()


def test_production_without_a_secret_does_not_start(tmp_path, monkeypatch):
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        config.load(str(tmp_path))
