"""The rows of shop data as the shop's systems send them (DESIGN.md, Shop data API), checked
whole before anything is written: the API, `flask shopdata import` and the demo data all pass
through `batch` here, so a row is judged the same wherever it comes from.

Every error names its row and field (`items[3].buyer.openids.demo-oa: no channel …`); unknown
fields are errors. Amounts become whole cents, times aware UTC datetimes.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from bridge.checks import (
    REQUIRED,
    Check,
    ConfigError,
    boolean,
    collect,
    integer,
    list_of,
    mapping_of,
    obj,
    optional,
    string,
)

KINDS = ("products", "orders", "coupons")
MAX_BATCH = 1000
ORDER_STATES = ("unpaid", "unshipped", "shipped", "refunding", "completed", "closed")
MAX_CENTS = 10**12  # ten billion yuan: a price past this is a mistake, not a product

ID = re.compile(r"^[^\s/?#%\\]{1,64}$")  # the shop's own ids end up in URLs: no separators


def shop_id_check(value: Any, path: str) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # an id the shop's system keeps as a number
    return string(64, ID, "1 to 64 characters without spaces, /, ?, #, % or \\")(value, path)


def money(value: Any, path: str) -> int:
    """Yuan as a number or a decimal string, at most two decimals → whole cents."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ConfigError(path, "must be an amount in yuan, e.g. 199 or \"199.00\"")
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        raise ConfigError(path, "must be an amount in yuan, e.g. 199 or \"199.00\"") from None
    if not amount.is_finite() or amount < 0:
        raise ConfigError(path, "must be zero or more")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise ConfigError(path, "has more than two decimals")
    if cents > MAX_CENTS:
        raise ConfigError(path, f"must be at most {MAX_CENTS // 100} yuan")
    return int(cents)


def web_url(value: Any, path: str) -> str:
    string(1024)(value, path)
    if not value.startswith(("https://", "http://")) or any(ch.isspace() for ch in value):
        raise ConfigError(path, "must be an http:// or https:// URL")
    return value


def page_path(value: Any, path: str) -> str:
    string(1024)(value, path)
    if "://" in value or any(ch.isspace() for ch in value):
        raise ConfigError(path, "must be a Mini Program page (e.g. pages/item/item?id=42), not a URL")
    return value.lstrip("/")


def moment(value: Any, path: str) -> datetime:
    """ISO 8601 with its offset (2026-12-01T10:00:00+08:00 or …Z): a time without one is ambiguous."""
    if not isinstance(value, str) or len(value) > 40:
        raise ConfigError(path, "must be an ISO 8601 time with its offset, e.g. 2026-12-01T10:00:00+08:00")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ConfigError(path, "must be an ISO 8601 time with its offset, e.g. 2026-12-01T10:00:00+08:00") from None
    if parsed.tzinfo is None:
        raise ConfigError(path, "has no offset: add one, e.g. +08:00 or Z")
    return parsed.astimezone(timezone.utc)


def _text(most: int) -> tuple[Check, Any]:
    return (optional(string(most, allow_empty=True)), None)


PRODUCT = obj({
    "id": (shop_id_check, REQUIRED),
    "title": (string(200), REQUIRED),
    "price": (money, REQUIRED),
    "image": (optional(web_url), None),
    "url": (optional(web_url), None),
    "category": _text(128),
    "page_path": (optional(page_path), None),
    "on_sale": (boolean, True),
})

COUPON = obj({
    "id": (shop_id_check, REQUIRED),
    "title": (string(200), REQUIRED),
    "value": (string(64), REQUIRED),
    "condition": _text(200),
    "valid_until": (moment, REQUIRED),
    "url": (optional(web_url), None),
    "page_path": (optional(page_path), None),
})

_BUYER = obj({
    "user_id": (optional(string(128)), None),
    "unionid": (optional(string(128)), None),
    "openids": (mapping_of(string(64), string(128), max_items=20), dict),
})

_LINE = obj({
    "product_id": (shop_id_check, REQUIRED),
    "quantity": (integer(1, 100_000), REQUIRED),
    "price": (money, REQUIRED),
})

_ORDER = obj({
    "number": (shop_id_check, REQUIRED),
    "buyer": (_BUYER, REQUIRED),
    "items": (list_of(_LINE, max_items=200, min_items=1), REQUIRED),
    "amount": (money, REQUIRED),
    "state": (lambda v, p: _state(v, p), REQUIRED),
    "logistics": (obj({"company": _text(64), "tracking_number": _text(64)}), dict),
    "created_at": (moment, REQUIRED),
    "updated_at": (optional(moment), None),
})


def _state(value: Any, path: str) -> str:
    if value not in ORDER_STATES:
        raise ConfigError(path, f"must be one of {', '.join(ORDER_STATES)}")
    return value


def order(channels: Mapping[str, int]) -> Check:
    """An order whose buyer names this shop's channels (CHANNELS: key → channel id) by key."""

    def check(value: Any, path: str) -> dict[str, Any]:
        out = _ORDER(value, path)
        buyer = out["buyer"]
        if not (buyer["user_id"] or buyer["unionid"] or buyer["openids"]):
            raise ConfigError(f"{path}.buyer", "names nobody: give a user_id, a unionid or openids")
        for key in buyer["openids"]:
            if key not in channels:
                raise ConfigError(f"{path}.buyer.openids.{key}", "no channel of this key in this shop")
        if out["updated_at"] is None:
            out["updated_at"] = out["created_at"]
        return out

    return check


def identities(channels: Mapping[str, int]) -> Check:
    """A shopper's ids to link or unlink (customers/people.py): {user_id, unionid, openids}."""

    def check(value: Any, path: str) -> dict[str, Any]:
        out = _BUYER(value, path)
        if not (out["user_id"] or out["unionid"] or out["openids"]):
            raise ConfigError(path, "names nobody: give a user_id, a unionid or openids")
        for key in out["openids"]:
            if key not in channels:
                raise ConfigError(f"{path}.openids.{key}", "no channel of this key in this shop")
        return out

    return check


class BatchError(ConfigError):
    """A batch refused whole; `row` and `field` say where (the first error), `errors` all of them."""

    @property
    def row(self) -> int | None:
        match = re.match(r"^items\[(\d+)\]", self.path)
        return int(match.group(1)) if match else None

    @property
    def field(self) -> str | None:
        match = re.match(r"^items\[\d+\]\.?(.*)$", self.path)
        return (match.group(1) or None) if match else (None if self.path == "items" else self.path)


def batch(kind: str, body: Any, channels: Mapping[str, int], max_items: int = MAX_BATCH) -> list[dict[str, Any]]:
    """The checked rows of KIND from BODY ({"items": [...]}), or BatchError; a row's id twice in
    one batch is an error at its second place."""
    if not isinstance(body, dict):
        raise BatchError("body", 'must be an object {"items": [...]}')
    unknown = sorted(set(body) - {"items"})
    if unknown:
        raise BatchError(unknown[0], "unknown key (the body is {\"items\": [...]})")
    items = body.get("items")
    if not isinstance(items, list) or not items:
        raise BatchError("items", "must be a list of 1 or more rows")
    if len(items) > max_items:
        raise BatchError("items", f"has {len(items)} rows: at most {max_items} in one call")
    check = {"products": PRODUCT, "coupons": COUPON, "orders": order(channels), "links": identities(channels)}[kind]
    errors: list[tuple[str, str]] = []
    rows = [collect(errors, check, item, f"items[{i}]") for i, item in enumerate(items)]
    id_field = "number" if kind == "orders" else "id"
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        if row is None or kind == "links":
            continue
        if row[id_field] in seen:
            errors.append((f"items[{i}].{id_field}", f"repeats row {seen[row[id_field]]} of this batch"))
        seen.setdefault(row[id_field], i)
    if errors:
        errors.sort(key=lambda e: _row_of(e[0]))
        raise BatchError(*errors[0], more=tuple(errors[1:]))
    return rows


def _row_of(path: str) -> int:
    match = re.match(r"^items\[(\d+)\]", path)
    return int(match.group(1)) if match else -1
