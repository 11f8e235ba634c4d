"""Per-process caches for the webhook's hot path: channel snapshots, each shop's keyword matcher,
and each shop's blocked shoppers."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import ContextManager

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.autoreply import Matcher, Rule
from bridge.channels.contract import ChannelConfig
from bridge.customers import people
from bridge.customers.models import CustomerBlock
from bridge.models import AutoReply, Channel, Customer, Shop


def snapshot(channel: Channel, config_version: int = 0) -> ChannelConfig:
    """What adapters see of a stored channel."""
    return ChannelConfig(id=channel.id, shop_id=channel.shop_id, kind=channel.kind, key=channel.key,
                         settings=dict(channel.settings or {}), config_version=config_version)


class ChannelCache:
    """Channel rows by key for a few seconds; matchers until the shop's config_version moves."""

    def __init__(self, ttl: float):
        self.ttl = ttl
        self._channels: dict[str, tuple[float, ChannelConfig | None]] = {}
        self._matchers: dict[int, tuple[int, Matcher, dict]] = {}
        self._blocked: dict[int, tuple[float, frozenset[tuple[int, str]]]] = {}
        self._lock = threading.Lock()

    def channel(self, sessions: Callable[[], ContextManager[Session]], key: str) -> ChannelConfig | None:
        """SESSIONS opens a session of its own, on a miss only: a hit opens none, and a miss
        holds no transaction (on SQLite, the write lock) beyond the lookup."""
        now = time.monotonic()
        hit = self._channels.get(key)
        if hit and hit[0] > now:
            return hit[1]
        with sessions() as session:
            row = session.execute(
                select(Channel, Shop.config_version)
                .join(Shop, Shop.id == Channel.shop_id)
                .where(Channel.key == key, Channel.enabled.is_(True))
            ).first()
            config = None
            if row is not None:
                ch, version = row
                config = snapshot(ch, version)
        with self._lock:
            self._channels[key] = (now + self.ttl, config)
        return config

    def shop(self, sessions: Callable[[], ContextManager[Session]],
             channel: ChannelConfig) -> tuple[Matcher, dict]:
        """The shop's keyword matcher and settings as of the channel snapshot's config version."""
        hit = self._matchers.get(channel.shop_id)
        if hit and hit[0] == channel.config_version:
            return hit[1], hit[2]
        with sessions() as session:
            settings = session.scalar(select(Shop.settings).where(Shop.id == channel.shop_id)) or {}
            rows = session.scalars(select(AutoReply).where(AutoReply.shop_id == channel.shop_id)).all()
            matcher = Matcher(
                Rule(id=r.id, keywords=tuple(r.keywords), match=r.match, priority=r.priority,
                     position=r.position, reply=r.reply)
                for r in rows
            )
        entry = (channel.config_version, matcher, settings)
        with self._lock:
            self._matchers[channel.shop_id] = entry
        return matcher, settings

    def blocked(self, sessions: Callable[[], ContextManager[Session]], shop_id: int) -> frozenset[tuple[int, str]]:
        """The shop's blocked shoppers as (channel id, external id), read again after `ttl`
        seconds: a block reaches every process within that, this process's at once (forget)."""
        now = time.monotonic()
        hit = self._blocked.get(shop_id)
        if hit and hit[0] > now:
            return hit[1]
        with sessions() as session:
            blocked = list(session.scalars(select(Customer).join(
                CustomerBlock, (CustomerBlock.shop_id == shop_id) & (CustomerBlock.customer_id == Customer.id))))
            # A blocked shopper is blocked on every channel the shop linked them on, written from yet or not.
            found = frozenset(people.identities(session, shop_id, blocked)) if blocked else frozenset()
        with self._lock:
            self._blocked[shop_id] = (now + self.ttl, found)
        return found

    def forget_blocked(self, shop_id: int) -> None:
        with self._lock:
            self._blocked.pop(shop_id, None)

    def clear(self) -> None:
        with self._lock:
            self._channels.clear()
            self._matchers.clear()
            self._blocked.clear()
