"""Hot products' counts, made over 30 days of order lines, kept in Redis for a few minutes: every
agent's panel shows them, and counting reads every order line of the month (200 ms with a
million orders). The products themselves are read fresh each time (a price, 已下架). New or
deleted orders forget the count. Without Redis the count is made each time."""
from __future__ import annotations

import json
import logging
from collections.abc import Callable

import redis

from bridge import keys

log = logging.getLogger(__name__)
SECONDS = 300


def get(client: redis.Redis, shop_id: int, count: Callable[[], list]) -> list:
    """The kept list, or COUNT()'s, kept for next time."""
    key = keys.hot_products(shop_id)
    try:
        kept = client.get(key)
        if kept is not None:
            return [tuple(row) for row in json.loads(kept)]
    except redis.RedisError:
        log.warning("hot products of shop %s: Redis unavailable, counting", shop_id)
        return count()
    fresh = count()
    try:
        client.set(key, json.dumps(fresh, ensure_ascii=False), ex=SECONDS)
    except redis.RedisError:
        pass
    return fresh


def forget(client: redis.Redis, shop_id: int) -> None:
    try:
        client.delete(keys.hot_products(shop_id))
    except redis.RedisError:
        log.warning("hot products of shop %s: Redis unavailable, the count is kept up to %ss", shop_id, SECONDS)
