"""Failed logins limited per account and per address, through Redis so every web process
counts together. One rule for every login face (the API's now, the inbox's form next).

A window opens at an account's (or address's) first failure; past the limit, further tries
are refused until the window closes (Retry-After), before any password is checked. A success
clears the account's count, never the address's. If Redis cannot be reached the limit is not
applied (logged): sign-ins keep working, the passwords' argon2 cost still stands.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from bridge import keys

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limit:
    failures: int
    window_seconds: int


ACCOUNT = Limit(failures=5, window_seconds=15 * 60)
ADDRESS = Limit(failures=30, window_seconds=15 * 60)


def _subjects(shop_key: str, username: str, address: str) -> list[tuple[str, Limit]]:
    account = hashlib.sha256(f"{shop_key}\0{username.strip().lower()}".encode()).hexdigest()[:32]
    return [(keys.login_failures("account", account), ACCOUNT),
            (keys.login_failures("address", address or "unknown"), ADDRESS)]


def retry_after(redis, shop_key: str, username: str, address: str) -> int:
    """Seconds until this login may be tried again; 0: it may be tried now."""
    subjects = _subjects(shop_key, username, address)
    try:
        pipe = redis.pipeline(transaction=False)
        for key, _ in subjects:
            pipe.get(key)
            pipe.ttl(key)
        answers = pipe.execute()
    except Exception as exc:  # noqa: BLE001 - Redis down: see the module's docstring
        log.warning("login limit not checked: Redis unavailable (%s)", type(exc).__name__)
        return 0
    wait = 0
    for i, (_, limit) in enumerate(subjects):
        count, ttl = answers[2 * i], answers[2 * i + 1]
        if count is not None and int(count) >= limit.failures:
            wait = max(wait, ttl if ttl and ttl > 0 else limit.window_seconds)
    return wait


def failed(redis, shop_key: str, username: str, address: str) -> None:
    try:
        pipe = redis.pipeline(transaction=True)
        for key, limit in _subjects(shop_key, username, address):
            pipe.incr(key)
            pipe.expire(key, limit.window_seconds, nx=True)
        pipe.execute()
    except Exception as exc:  # noqa: BLE001
        log.warning("login failure not counted: Redis unavailable (%s)", type(exc).__name__)


def succeeded(redis, shop_key: str, username: str, address: str) -> None:
    try:
        redis.delete(_subjects(shop_key, username, address)[0][0])
    except Exception as exc:  # noqa: BLE001
        log.warning("login count not cleared: Redis unavailable (%s)", type(exc).__name__)
