"""The shop config file (DESIGN.md): validated whole before anything is written, every error at once.

Every error names its field, e.g. `shops[0].settings.routing: must be one of …`.
The result is plain dicts with every default filled in.
"""
from __future__ import annotations

import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bridge.channels import registry
from bridge.checks import (
    KEY,
    REQUIRED,
    Check,
    ConfigError,
    boolean,
    collect,
    integer,
    list_of,
    mapping_of,
    obj,
    one_of,
    optional,
    string,
)

HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
ROUTE_CONDITIONS = ("category", "order_state", "scene", "menu", "session_from", "page", "channel")


def timezone_name(value: Any, path: str) -> str:
    string(64)(value, path)
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(path, f"unknown time zone {value!r}") from None
    return value


def _working_period(value: Any, path: str) -> dict[str, Any]:
    period = obj({
        "days": (list_of(integer(1, 7), max_items=7, min_items=1), REQUIRED),
        "start": (string(5, HHMM, "a time HH:MM"), REQUIRED),
        "end": (string(5, HHMM, "a time HH:MM"), REQUIRED),
    })(value, path)
    if len(set(period["days"])) != len(period["days"]):
        raise ConfigError(f"{path}.days", "lists a day twice")
    if period["end"] <= period["start"]:
        raise ConfigError(f"{path}.end", "must be after start")
    return period


def _message(default: str) -> tuple[Check, Any]:
    """A text the shop sends on its own; empty means "do not send it"."""
    return (string(600, allow_empty=True), default)


SETTINGS = obj({
    "routing": (one_of("least_load", "round_robin", "idle_rate", "weighted"), "least_load"),
    "customer_chooses_agent": (boolean, False),
    "recent_contact_hours": (integer(0, 8760), 72),
    "queue_order": (one_of("fifo", "lifo"), "fifo"),
    "robot_first": (boolean, False),
    "working_hours": (list_of(_working_period, max_items=21), list),
    "welcome_message": _message("您好，我是{agent}，请问有什么可以帮您？"),
    "off_hours_message": _message("现在是下班时间，我们上班后会第一时间回复您。"),
    "queue_message": _message("当前排队第{position}位，请稍候。"),
    "queue_update_step": (integer(0, 1000), 5),  # tell a new place once it moved this far; 0: never
    "no_agent_message": _message("客服暂时不在，请留言，我们会尽快回复。"),
    "rating_on_end": (boolean, True),
    "rating_message": _message("请为客服{agent}本次的服务评分：回复 1-5 的数字（5 分最满意），数字后可附上您的评价。"),
    "thanks_message": _message("感谢您对客服{agent}的评价"),
    "rating_hint_message": _message("请回复1-5分评价（5分最满意）；有新的问题请再发一次。"),
    "rating_card_hours": (integer(1, 720), 24),
    "rating_words": (mapping_of(string(20), integer(1, 5), max_items=200), dict),
    "transfer_message": _message("已为您转接客服{agent}"),
    "robot_fallback_message": _message("没有找到相关答案，回复“人工”为您转接人工客服。"),
    "allow_pick": (boolean, True),
    "customer_idle_minutes": (integer(0, 1440), 15),
    "agent_reply_timeout_minutes": (integer(0, 1440), 0),
    "history_reply_hours": (integer(0, 8760), 72),
    "retention_days": (optional(integer(1, 36500)), None),
})

_KEY = (string(64, KEY, "a key of a-z, 0-9, _ and - (up to 64)"), REQUIRED)


def channel(value: Any, path: str) -> dict[str, Any]:
    """A channel: its kind and key, and the fields its kind declares (bridge.channels.registry)."""
    if not isinstance(value, dict):
        raise ConfigError(path, "must be an object")
    kind = one_of(*registry.KINDS)(value.get("kind"), f"{path}.kind")
    entry = registry.get(kind)
    fields = obj({"kind": (string(32), REQUIRED), "key": _KEY, **entry.fields})(value, path)
    if entry.check is not None:
        entry.check(fields, path)
    return fields


def route_condition(value: Any, path: str) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise ConfigError(path, "must be an object with one or more conditions")
    for key, item in value.items():
        if key not in ROUTE_CONDITIONS:
            raise ConfigError(f"{path}.{key}", f"unknown key (conditions: {', '.join(ROUTE_CONDITIONS)})")
        string(128)(item, f"{path}.{key}")
    return dict(value)


def reply(value: Any, path: str) -> dict[str, Any]:
    """A keyword rule's answer: a text, an image (a media id the channel keeps), or a product or
    coupon card made of the shop's data when it answers, with `text` for when the product or
    coupon is gone (bridge/shopdata/replies.py)."""
    out = obj({"type": (one_of("text", "image", "product", "coupon"), "text"),
               "text": (optional(string(600)), None),
               "media_id": (optional(string(128)), None),
               "product_id": (optional(string(64)), None),
               "coupon_id": (optional(string(64)), None)})(value, path)
    needs = {"text": "text", "image": "media_id", "product": "product_id", "coupon": "coupon_id"}[out["type"]]
    if not out[needs]:
        raise ConfigError(f"{path}.{needs}", f"is required for a {out['type']} reply")
    for other in ("media_id", "product_id", "coupon_id"):
        if out[other] is not None and other != needs:
            raise ConfigError(f"{path}.{other}", f"is not part of a {out['type']} reply")
    return {k: v for k, v in out.items() if v is not None}


def auto_reply(value: Any, path: str) -> dict[str, Any]:
    rule = obj({
        "keywords": (list_of(string(100), max_items=50, min_items=1), REQUIRED),
        "match": (one_of("contains", "exact", "regex"), "contains"),
        "priority": (integer(-1000, 1000), 0),
        "reply": (reply, REQUIRED),
    })(value, path)
    if rule["match"] == "regex":
        for i, pattern in enumerate(rule["keywords"]):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ConfigError(f"{path}.keywords[{i}]", f"is not a valid regex: {exc}") from None
    return rule


# What `shops export` writes for a password: the stored hash, as passwords.py makes it.
ARGON2 = re.compile(r"^\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$")

_AGENT = obj({
    "username": (string(64, KEY, "a username of a-z, 0-9, _ and -"), REQUIRED),
    "password": (optional(string(200, re.compile(r"^.{8,}$"), "at least 8 characters")), None),
    "password_hash": (optional(string(512, ARGON2, "an argon2 hash ($argon2id$v=19$m=…)")), None),
    "name": (string(200), REQUIRED),
    "role": (one_of("admin", "agent"), "agent"),
    "max_concurrent": (integer(1, 50), 10),
    "weight": (integer(1, 100), 1),
    "groups": (list_of(string(64, KEY, "a group key"), max_items=50), list),
})



def agent(value: Any, path: str) -> dict[str, Any]:
    """An agent with a password, or the hash of one (an export's; loading it keeps the hash)."""
    out = _AGENT(value, path)
    if out["password"] is None and out["password_hash"] is None:
        raise ConfigError(f"{path}.password", "is required (or password_hash, as `shops export` writes it)")
    if out["password"] is not None and out["password_hash"] is not None:
        raise ConfigError(f"{path}.password_hash", "cannot be given with password: one or the other")
    return out


SHOP = obj({
    "key": _KEY,
    "name": (string(200), REQUIRED),
    "timezone": (timezone_name, "Asia/Shanghai"),
    "settings": (SETTINGS, lambda: SETTINGS({}, "settings")),
    "channels": (list_of(channel, max_items=100), list),
    "groups": (list_of(obj({"key": _KEY, "name": (string(200), REQUIRED)}), max_items=200), list),
    "entry_routes": (list_of(obj({"when": (route_condition, REQUIRED),
                                  "group": (string(64, KEY, "a group key"), REQUIRED)}),
                             max_items=200), list),
    "agents": (list_of(agent, max_items=2000), list),
    "auto_replies": (list_of(auto_reply, max_items=20000), list),
    "quick_phrases": (list_of(obj({"title": (string(200), REQUIRED),
                                   "text": (string(2000), REQUIRED)}), max_items=2000), list),
})


def _objects(items: Any) -> list[tuple[int, dict[str, Any]]]:
    """(index, item) of the objects in a list as the file has it, checked or not."""
    return [(i, item) for i, item in enumerate(items) if isinstance(item, dict)] if isinstance(items, list) else []


def _keyed(items: Any, field: str) -> list[tuple[int, str]]:
    """(index, FIELD) of the objects in the list that have it as a string."""
    return [(i, item[field]) for i, item in _objects(items) if isinstance(item.get(field), str)]


def _twice(items: Any, field: str, path: str, why: str = "") -> list[tuple[str, str]]:
    seen: set[str] = set()
    errors = []
    for i, key in _keyed(items, field):
        if key in seen:
            errors.append((f"{path}[{i}].{field}", f"{key!r} appears twice{why}"))
        seen.add(key)
    return errors


def _cross_errors(shop: dict[str, Any], path: str) -> list[tuple[str, str]]:
    """What no single field shows: keys listed twice, groups named but not listed. Read from the
    file as it is, so that they are found beside any other error."""
    errors = _twice(shop.get("groups"), "key", f"{path}.groups")
    errors += _twice(shop.get("agents"), "username", f"{path}.agents")
    # A shop's apps keep their access tokens under the shop and the app id: two channels of one
    # app would share one, and WeChat pushes an app to one URL, so one of them would never hear.
    errors += _twice(shop.get("channels"), "app_id", f"{path}.channels", ": one WeChat app is one channel")
    groups = {key for _, key in _keyed(shop.get("groups"), "key")}
    for i, key in _keyed(shop.get("entry_routes"), "group"):
        if key not in groups:
            errors.append((f"{path}.entry_routes[{i}].group", f"no group {key!r} in this shop"))
    for i, item in _objects(shop.get("agents")):
        named = item.get("groups")
        for j, key in enumerate(named if isinstance(named, list) else []):
            if isinstance(key, str) and key not in groups:
                errors.append((f"{path}.agents[{i}].groups[{j}]", f"no group {key!r} in this shop"))
    return errors


def shop(value: Any, path: str) -> dict[str, Any]:
    errors: list[tuple[str, str]] = []
    out = collect(errors, SHOP, value, path)
    if isinstance(value, dict):
        errors += _cross_errors(value, path)
    if errors:
        raise ConfigError.of(errors)
    return out


def validate(document: Any) -> list[dict[str, Any]]:
    """The whole file → the list of shops, or ConfigError naming every bad field."""
    errors: list[tuple[str, str]] = []
    out = collect(errors, obj({"shops": (list_of(shop, max_items=1000, min_items=1), REQUIRED)}), document, "")
    shops = document.get("shops") if isinstance(document, dict) else None
    errors += _twice(shops, "key", "shops")
    channel_paths: dict[str, str] = {}
    for i, raw in _objects(shops):
        for j, key in _keyed(raw.get("channels"), "key"):
            here = f"shops[{i}].channels[{j}].key"
            if key in channel_paths:
                errors.append((here, f"{key!r} is already used at {channel_paths[key]}"))
            channel_paths.setdefault(key, here)
    if errors:
        raise ConfigError.of(errors)
    return out["shops"]
