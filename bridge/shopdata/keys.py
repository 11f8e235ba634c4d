"""The keys a shop's own systems call the shop-data API with (`flask shopdata keys create`).

A key is `<prefix>.<secret>`: the prefix finds its row and may be shown and logged (it names the
key in `keys list` and `keys revoke`); the whole key is shown once, when made, and only its
SHA-256 is kept. A slow password hash would add nothing here: the secret is 256 random bits,
not something a person chose, so no dictionary guesses it.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.models import Shop
from bridge.shopdata.models import ShopApiKey

PREFIX = "sd_"


def create(session: Session, shop: Shop, label: str | None, now: datetime) -> str:
    """A new key for SHOP, kept hashed; the caller commits and shows the returned key once."""
    prefix = PREFIX + secrets.token_hex(6)
    key = f"{prefix}.{secrets.token_urlsafe(32)}"
    session.add(ShopApiKey(shop_id=shop.id, prefix=prefix, secret_hash=_digest(key), label=label, created_at=now))
    session.flush()
    return key


def revoke(session: Session, prefix: str, now: datetime) -> ShopApiKey | None:
    row = session.scalar(select(ShopApiKey).where(ShopApiKey.prefix == prefix))
    if row is not None and row.revoked_at is None:
        row.revoked_at = now
    return row


def shop_of(session: Session, key: str) -> int | None:
    """The shop id a presented KEY is valid for, or None (unknown, wrong, revoked)."""
    prefix, dot, _ = key.partition(".")
    if not dot or not prefix.startswith(PREFIX) or len(prefix) > 16:
        return None
    row = session.scalar(select(ShopApiKey).where(ShopApiKey.prefix == prefix))
    if row is None or row.revoked_at is not None or not hmac.compare_digest(row.secret_hash, _digest(key)):
        return None
    return row.shop_id


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()
