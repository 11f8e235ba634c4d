"""How many live event streams one agent, one address and one process may hold at once.

An open stream holds a server thread for as long as the client listens. Unbounded, one token
opening a few dozen streams took every thread a web process had, and the webhooks behind
them timed out. So a stream first takes a slot of each kind, or is refused:

- per agent and per client address, counted in Redis across all processes: a sorted set of
  the streams open now, each scored by when its lease ends. The stream renews the lease at
  every beat and gives it back when it ends; a process that died leaves slots that lapse
  within LEASE_SECONDS. Refused: 429 with Retry-After.
- per process, counted here: a stream may take at most STREAMS_PER_PROCESS of this process's
  threads (gunicorn.conf.py sets half a worker's threads), so webhooks and API calls always
  keep the rest. Refused: 503 with Retry-After; the client tries again, likely elsewhere.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable

import redis
from flask import Flask

from bridge import keys

LEASE_SECONDS = 60
RETRY_AFTER_SECONDS = 5

# Drop lapsed leases, then take a slot if fewer than the limit are held. Atomic: two streams
# opening at once can't both take the last slot.
_TAKE = """
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[2])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""


class Refused(Exception):
    """No slot: STATUS is the HTTP answer (429: this agent's or address's; 503: this process's)."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class ProcessSlots:
    """At most LIMIT streams in this process (None: no cap)."""

    def __init__(self, limit: int | None):
        self.limit, self._held, self._lock = limit, 0, threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.limit is not None and self._held >= self.limit:
                return False
            self._held += 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self._held -= 1


class Lease:
    """One stream's slots: renewed while it is open, given back when it ends."""

    def __init__(self, client: redis.Redis, held: list[str], process: ProcessSlots,
                 clock: Callable[[], float]):
        self.client, self.held, self.process, self.clock = client, held, process, clock
        self.member = ""

    def renew(self) -> None:
        try:
            pipe = self.client.pipeline(transaction=False)
            for key in self.held:
                pipe.zadd(key, {self.member: self.clock() + LEASE_SECONDS}, xx=True)
                pipe.expire(key, LEASE_SECONDS)
            pipe.execute()
        except redis.RedisError:
            pass  # the lease lapses later than it should, or a slot is counted a while longer

    def release(self) -> None:
        self.process.give_back()
        try:
            pipe = self.client.pipeline(transaction=False)
            for key in self.held:
                pipe.zrem(key, self.member)
            pipe.execute()
        except redis.RedisError:
            pass  # the leases lapse by themselves


def take(client: redis.Redis, process: ProcessSlots, shop_id: int, agent_id: int, address: str,
         per_agent: int, per_address: int, clock: Callable[[], float] = time.time) -> Lease:
    """The slots for a new stream of AGENT from ADDRESS, or Refused."""
    return take_each(client, process, [(keys.streams_of_agent(shop_id, agent_id), per_agent, "this agent"),
                                       (keys.streams_of_address(address), per_address, "this address")], clock)


def take_each(client: redis.Redis, process: ProcessSlots, limits: list[tuple[str, int, str]],
              clock: Callable[[], float] = time.time) -> Lease:
    """A slot of this process and one under each (key, limit, whose) of LIMITS, or Refused."""
    if not process.take():
        raise Refused(503, "streams_busy", "this server holds all the event streams it may; try again")
    lease = Lease(client, [], process, clock)
    lease.member = secrets.token_hex(8)
    try:
        for key, limit, who in limits:
            if not client.eval(_TAKE, 1, key, clock(), lease.member, limit, LEASE_SECONDS):
                raise Refused(429, "too_many_streams",
                              f"{who} has {limit} event streams open already; close one first")
            lease.held.append(key)
    except BaseException:
        lease.release()
        raise
    return lease


def init_app(app: Flask) -> None:
    app.extensions["stream_slots"] = ProcessSlots(app.config["STREAMS_PER_PROCESS"])
