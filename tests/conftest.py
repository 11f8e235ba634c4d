"""Fixtures: the app on SQLite always and PostgreSQL when it runs here, real Redis when it runs.

PostgreSQL: a database of our own is created, migrated once, and truncated before each test.
SQLite: one migrated template file, copied for each test. Redis: a leased database,
emptied before each test; without a Redis server the app falls back to its in-process stand-in and
the tests that need real Redis (several processes) skip, saying why. Each test leases a
Redis database of its own, so several test runs on one machine do not disturb each other.
"""
from __future__ import annotations

import os
import random
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, text

from bridge import create_app
from bridge.accounts import passwords
from bridge.cli import alembic_config
from bridge.infra import db
from tests.factories import load_shop, shop_doc

pytest_plugins = ["tests.fake_wechat", "tests.browser"]
passwords.use_test_cost()  # argon2id still, at a cost that keeps fixtures fast

PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REDIS_TEST_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


REQUIRE_SERVICES = os.environ.get("KEFU_REQUIRE_SERVICES") == "1"


def _missing(reason: str):
    """Skip, saying why; in CI (KEFU_REQUIRE_SERVICES=1) fail instead."""
    if REQUIRE_SERVICES:
        pytest.fail(reason + " (KEFU_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def _migrate(url: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(url), "head")


def _pg_available() -> str | None:
    try:
        engine = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"


def _redis_available() -> str | None:
    try:
        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2).ping()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"Redis not reachable at {REDIS_TEST_URL}: {type(exc).__name__}"


@pytest.fixture(scope="session")
def pg_database():
    """A migrated PostgreSQL database for this test session, dropped at the end."""
    reason = _pg_available()
    if reason:
        _missing(reason)
    name = f"kefu_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    _migrate(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "kefu.sqlite3"
    _migrate(f"sqlite:///{path}")
    return path


def _truncate(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        tables = conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename != 'alembic_version'"
        )).scalars().all()
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Each test that uses the database runs on both backends."""
    if request.param == "sqlite":
        path = tmp_path / "kefu.sqlite3"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_database")
    _truncate(url)
    return url


@pytest.fixture
def pg_url(pg_database) -> str:
    """PostgreSQL only (tests of several processes at once)."""
    _truncate(pg_database)
    return pg_database


LEASE_KEY = "kefu-test:lease"
LEASED_DATABASES = range(1, 13)  # 13–15 are left to benchmarks and by-hand runs


def _leased_redis() -> Iterator[str | None]:
    """A Redis database no other test run on this machine is using, emptied for this test.

    Several pytest runs can share one Redis server (a developer's and a helper's, say): each
    test leases a free database 1–12 with a key that expires, so no run flushes another's
    data or has its workers take another's jobs.
    """
    base = REDIS_TEST_URL.rsplit("/", 1)[0]
    reason = _redis_available()
    if reason:
        if REQUIRE_SERVICES:
            _missing(reason)
        yield None
        return
    me = uuid.uuid4().hex
    for number in random.sample(list(LEASED_DATABASES), len(LEASED_DATABASES)):
        conn = redis.Redis.from_url(f"{base}/{number}")
        if not conn.set(LEASE_KEY, me, nx=True, ex=600):
            conn.close()
            continue
        for key in conn.scan_iter(count=1000):
            if key != LEASE_KEY.encode():
                conn.delete(key)
        try:
            yield f"{base}/{number}"
        finally:
            if conn.get(LEASE_KEY) == me.encode():
                conn.delete(LEASE_KEY)
            conn.close()
        return
    pytest.fail("every Redis test database 1-12 is leased by another test run")


@pytest.fixture
def redis_url() -> Iterator[str | None]:
    """Real Redis (a leased, empty database) when it runs here, else None: the in-process stand-in."""
    yield from _leased_redis()


@pytest.fixture
def real_redis_url(redis_url: str | None) -> str:
    """Real Redis, or skip (fail in CI) saying why."""
    if redis_url is None:
        _missing(_redis_available() or "Redis is not running here")
    return redis_url


def make_app(database_url: str, redis_url: str | None, wechat_url: str = "http://127.0.0.1:9", **extra):
    if redis_url is None:
        import bridge.infra.redisconn as rc

        rc._embedded_server = None  # a fresh stand-in per app
    return create_app({
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "test-secret",
        "WECHAT_API_BASE": wechat_url, "WECHAT_HTTP_TIMEOUT": 2.0, "TESTING": True,
        # A test's in-process worker shares this client; on a busy test machine 0.3 s calls time
        # out now and then. The short timeout itself: tests/test_worker_outage.py, bench/faults/.
        "REDIS_WEB_TIMEOUT": 3.0,
        # Never the checkout's instance/media; a test that looks inside passes its own.
        "MEDIA_DIR": str(Path(tempfile.gettempdir()) / f"kefu-test-media-{os.getpid()}"),
        # The tests' shop servers, whose card pictures the delivery fetches, are on 127.0.0.1.
        "CARD_IMAGES_FROM_PRIVATE_ADDRESSES": True, **extra,
    })


@pytest.fixture
def app(database_url, redis_url, fake_wechat):
    app = make_app(database_url, redis_url, fake_wechat.url)
    yield app
    db.dispose(app)


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def web(app):
    """The test shop with its widget channels (tests/widget_kit.py)."""
    from tests.widget_kit import widget_shop
    return widget_shop(app)


@pytest.fixture
def shop(app):
    """The standard test shop (tests/factories.py), loaded through the real loader."""
    return load_shop(app, shop_doc())
