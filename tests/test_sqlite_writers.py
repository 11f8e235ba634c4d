"""SQLite writers queue on the writer lock and are handed over on commit, rollback and close."""
from __future__ import annotations

import fcntl
import os
import threading

import pytest
from sqlalchemy import text

from bridge.infra.db import make_engine


def test_a_second_writer_waits_for_the_first_and_every_ending_hands_over(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.sqlite3'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    order: list[str] = []
    first_in = threading.Event()

    def second():
        first_in.wait()
        with engine.begin() as conn:  # blocks until the first lets go
            order.append("second")
            conn.execute(text("INSERT INTO t VALUES (2)"))

    waiter = threading.Thread(target=second)
    waiter.start()
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO t VALUES (1)"))
        # The writer queue is held (an flock beside the database), not just SQLite's lock.
        probe = os.open(str(tmp_path / "w.sqlite3.writer-lock"), os.O_RDWR)
        with pytest.raises(BlockingIOError):
            fcntl.flock(probe, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.close(probe)
        first_in.set()
        waiter.join(timeout=0.5)
        assert waiter.is_alive()  # still queued behind us
        order.append("first")
    waiter.join(timeout=10)
    assert order == ["first", "second"]

    for end in ("rollback", "close"):  # no ending leaves the lock held
        conn = engine.connect()
        conn.begin()
        conn.execute(text("INSERT INTO t VALUES (3)"))
        getattr(conn, end)()
        if end == "rollback":
            conn.close()
        with engine.begin() as again:
            again.execute(text("SELECT 1"))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 2]
    engine.dispose()


def test_the_wal_is_checkpointed_by_a_thread_not_inside_a_writers_commit(tmp_path):
    """Commits leave the WAL alone (the writers' own checkpoint is only a backstop, far off);
    the process's checkpoint thread copies it into the database file soon after."""
    import time

    from bridge.infra import sqlite_writers

    path = tmp_path / "c.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == sqlite_writers.BACKSTOP_PAGES
        conn.execute(text("CREATE TABLE t (n INTEGER, pad TEXT)"))
    for n in range(200):  # ~200 KB of WAL, far below the backstop
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO t VALUES (:n, :pad)"), {"n": n, "pad": "x" * 1000})
    assert "kefu-sqlite-checkpoint" in [t.name for t in threading.enumerate()]
    deadline = time.monotonic() + 10
    while os.path.getsize(path) < 200 * 1000:  # the rows reach the database file itself
        assert time.monotonic() < deadline, "the WAL was never checkpointed"
        time.sleep(0.05)
    engine.dispose()
