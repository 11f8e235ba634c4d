"""Engine and sessions: one engine per app, one session per request or job.

Statement parameters (shoppers' words, tokens) never reach a log or an error message:
every engine hides them."""
from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import Session, sessionmaker

from bridge.infra.sqlite_writers import (
    BACKSTOP_PAGES,
    Checkpointer,
    WriterLock,
    connection_class,
)


CONNECT_TIMEOUT_S = 5
STATEMENT_TIMEOUT_MS = 30_000


def make_engine(url: str, pre_ping: bool = True) -> Engine:
    if url.startswith("sqlite"):
        args = {"timeout": 30, "check_same_thread": False}
        path = make_url(url).database
        if path and path != ":memory:":
            args["factory"] = connection_class(WriterLock(path + ".writer-lock"), Checkpointer(path))
        engine = create_engine(url, connect_args=args, hide_parameters=True)
        _serialize_sqlite_writers(engine)
        return engine
    # Never wait long on PostgreSQL: a connection in 5 s, a statement in STATEMENT_TIMEOUT_MS
    # (the bridge's are short; migrations run on their own engine, without this limit).
    return create_engine(url, pool_pre_ping=pre_ping, pool_size=5, max_overflow=10, hide_parameters=True,
                         connect_args={"connect_timeout": CONNECT_TIMEOUT_S,
                                       "options": f"-c statement_timeout={STATEMENT_TIMEOUT_MS}"})


def _serialize_sqlite_writers(engine: Engine) -> None:
    """SQLite: WAL, and BEGIN IMMEDIATE so concurrent writers queue on the lock.

    pysqlite's deferred BEGIN upgrades read locks to write locks mid-transaction, which
    fails with "database is locked" instead of waiting; IMMEDIATE makes every transaction
    wait its turn (busy timeout), which is the serialized behaviour we want.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # Checkpoints run in a thread (sqlite_writers.Checkpointer); in a commit only as a backstop.
        cur.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        dbapi_conn = conn.connection.dbapi_connection
        if hasattr(dbapi_conn, "begin_immediate"):
            dbapi_conn.begin_immediate()  # queued behind the writer lock, woken without sleeping
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    # The webhooks' own pool, without the ping before each checkout: that would be one round
    # trip more on every push. Ingest takes a push once more on a fresh connection instead
    # when its connection turns out dead. (SQLite has no server to lose: one engine.)
    hooks = engine
    if engine.dialect.name != "sqlite":
        hooks = make_engine(app.config["DATABASE_URL"], pre_ping=False)
    # RQ forks a work horse per job: the child must not reuse the parent's connections.
    for each in {engine, hooks}:
        os.register_at_fork(after_in_child=functools.partial(each.dispose, close=False))
    app.extensions["db_engine"] = engine
    app.extensions["hook_engine"] = hooks
    app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def hook_engine() -> Engine:
    return current_app.extensions["hook_engine"]


def session() -> Session:
    """The current request's (or job's) session, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["db_sessionmaker"]()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.close()


@contextmanager
def new_session(app: Flask | None = None) -> Iterator[Session]:
    """A session of its own, closed at the end of the block: outside the request cycle (CLI,
    jobs, tests), or for a short read in a request that writes on another connection."""
    s = (app or current_app).extensions["db_sessionmaker"]()
    try:
        yield s
    finally:
        s.close()


def dispose(app: Flask) -> None:
    """Close every pooled connection of the app's engines (before a fork, or at the end)."""
    for engine in {app.extensions["db_engine"], app.extensions["hook_engine"]}:
        engine.dispose()
