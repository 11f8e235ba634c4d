"""How every process logs: one line a record, the bridge's own lines at LOG_LEVEL, and the
libraries' routine narration out of the way.

A delivery that will be retried says so in one line, a final failure in one warning with the
platform's code (bridge/delivery.py); a traceback means a bug. What is kept down below DEBUG
is what buried those lines: RQ's four lines for every job it takes (the sweep's every 30 s
among them), the embedded server's line for every request (the demo shopper page polls each
second), alembic's plugin set-up. Their warnings and errors still show.
"""
from __future__ import annotations

import hashlib
import logging
import re

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
CHATTY = ("rq.worker", "rq.job", "rq.scheduler", "werkzeug", "alembic.runtime.plugins")


def configure(level: str) -> None:
    """Log to stderr at LEVEL; ValueError naming LOG_LEVEL for a level that is not one."""
    name = str(level).upper()
    if name not in LEVELS:
        raise ValueError(f"LOG_LEVEL must be one of {', '.join(LEVELS)}, not {level!r}")
    logging.basicConfig(level=name, format=FORMAT)
    logging.getLogger("bridge").setLevel(name)
    for chatty in CHATTY:
        logging.getLogger(chatty).setLevel("DEBUG" if name == "DEBUG" else "WARNING")
    server = logging.getLogger("werkzeug")
    if not any(isinstance(f, NoQueryStrings) for f in server.filters):
        server.addFilter(NoQueryStrings())


class NoQueryStrings(logging.Filter):
    """Request lines without their query strings: a webhook's carries its signature, nonce
    and timestamp, the demo's a shopper's openid (gunicorn.conf.py does the same for gunicorn)."""

    QUERY = re.compile(r"\?[^\s\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            record.args = (self.QUERY.sub("", record.args[0]), *record.args[1:])
        return True


def digest(value: str) -> str:
    """What a log line says instead of a shopper's id (or a key holding one): a short hash, the
    same for the same value, that tells nothing of it."""
    return hashlib.sha256(value.encode()).hexdigest()[:12]


def library_level(level: str) -> str:
    """The level RQ is told to log at when a worker starts (it sets its own loggers' levels)."""
    return "DEBUG" if str(level).upper() == "DEBUG" else "WARNING"
