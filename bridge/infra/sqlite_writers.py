"""SQLite writers: one at a time across threads and processes, handed over without sleeping;
and the WAL checkpointed from a thread, outside that queue.

SQLite's own busy handler makes a waiting writer sleep (1 ms, 2 ms, … up to 100 ms) and
retry; under load a worker sleeps while the lock sits free (the webhook bench saw 1 of 2
cores busy). Here writers queue on a thread lock and an flock(2) on a file beside the
database: the kernel wakes the next one the moment the holder lets go. SQLite's lock stays
the authority; this only orders who asks for it. A process that dies releases its flock.

Checkpoints (copying the WAL back into the database, with an fsync) would otherwise run
inside the commit that crosses SQLite's 1000-page mark, while that writer still holds the
queue: every writer waits, and the webhook bench's p99 at half load went to 60–600 ms. Here
each process that writes runs a thread that asks for a PASSIVE checkpoint every half
second, on its own connection: it never blocks a writer, and SQLite releases the GIL while
it works. The writers' own automatic checkpoint stays on, at 20,000 pages (~80 MB), as a
backstop only.
"""
from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time

WAIT_SECONDS = 30  # like busy_timeout: a writer that waits this long gets "database is locked"
CHECKPOINT_SECONDS = 0.5
BACKSTOP_PAGES = 20_000

log = logging.getLogger(__name__)


class WriterLock:
    def __init__(self, path: str):
        self.path = path
        self._fd: int | None = None
        self._pid: int | None = None
        self._threads = threading.Lock()
        os.register_at_fork(after_in_child=self._after_fork)

    def _after_fork(self) -> None:
        self._threads = threading.Lock()  # a lock held by another thread at fork stays held
        self._fd = self._pid = None

    def acquire(self) -> None:
        if not self._threads.acquire(timeout=WAIT_SECONDS):
            raise sqlite3.OperationalError("database is locked (writer queue)")
        try:
            if self._pid != os.getpid():
                self._fd, self._pid = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600), os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._threads.release()
            raise

    def release(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._threads.release()


class Checkpointer:
    """One thread per process that moves the WAL into `database` every `interval` seconds."""

    def __init__(self, database: str, interval: float = CHECKPOINT_SECONDS):
        self.database, self.interval = database, interval
        self._pid: int | None = None
        self._lock = threading.Lock()

    def ensure_running(self) -> None:
        if self._pid == os.getpid():
            return
        with self._lock:
            if self._pid != os.getpid():  # a forked child has the attribute, not the thread
                threading.Thread(target=self._run, name="kefu-sqlite-checkpoint", daemon=True).start()
                self._pid = os.getpid()

    def _run(self) -> None:
        conn = sqlite3.connect(self.database, timeout=0, isolation_level=None, check_same_thread=False)
        try:
            while True:
                time.sleep(self.interval)
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as exc:  # busy with another process's checkpoint: next time
                    log.debug("checkpoint of %s skipped: %s", self.database, exc)
        finally:
            conn.close()


def _then_let_go(method):
    def ending(self) -> None:
        try:
            method(self)
        finally:
            self._let_go()

    return ending


def connection_class(lock: WriterLock, checkpointer: Checkpointer | None = None) -> type[sqlite3.Connection]:
    """A pysqlite connection that holds `lock` from its BEGIN to its COMMIT or ROLLBACK."""

    class QueuedWriterConnection(sqlite3.Connection):
        _holding = False

        def begin_immediate(self) -> None:
            if checkpointer is not None:
                checkpointer.ensure_running()
            lock.acquire()
            self._holding = True
            try:
                self.execute("BEGIN IMMEDIATE")
            except BaseException:
                self._let_go()
                raise

        def _let_go(self) -> None:
            if self._holding:
                self._holding = False
                lock.release()

        # Every way a transaction ends hands the lock on.
        commit = _then_let_go(sqlite3.Connection.commit)
        rollback = _then_let_go(sqlite3.Connection.rollback)
        close = _then_let_go(sqlite3.Connection.close)

    return QueuedWriterConnection
