"""One SQLite writer at a time, across threads and processes, handed over without sleeping.

SQLite's own busy handler makes a waiting writer sleep (1 ms, 2 ms, … up to 100 ms) and
retry; under load a worker sleeps while the lock sits free (the webhook bench saw 1 of 2
cores busy). Here writers queue on a thread lock and an flock(2) on a file beside the
database: the kernel wakes the next one the moment the holder lets go. SQLite's lock stays
the authority; this only orders who asks for it. A process that dies releases its flock.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading

WAIT_SECONDS = 30  # like busy_timeout: a writer that waits this long gets "database is locked"


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


def _then_let_go(method):
    def ending(self) -> None:
        try:
            method(self)
        finally:
            self._let_go()

    return ending


def connection_class(lock: WriterLock) -> type[sqlite3.Connection]:
    """A pysqlite connection that holds `lock` from its BEGIN to its COMMIT or ROLLBACK."""

    class QueuedWriterConnection(sqlite3.Connection):
        _holding = False

        def begin_immediate(self) -> None:
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
