"""The checks config files are validated with (shop files, channel fields): each takes
(value, path) and returns the value with defaults filled in, or raises ConfigError naming
the field — every bad field, where a check holds several (objects, lists, mappings)."""
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")

Check = Callable[[Any, str], Any]
REQUIRED = object()


class ConfigError(Exception):
    """One bad field, or several (`errors`, in file order); str() is one line per field."""

    def __init__(self, path: str, message: str, more: tuple[tuple[str, str], ...] = ()):
        self.errors: list[tuple[str, str]] = [(path, message), *more]
        super().__init__("\n".join(f"{p}: {m}" for p, m in self.errors))
        self.path = path

    @classmethod
    def of(cls, errors: list[tuple[str, str]]) -> ConfigError:
        return cls(*errors[0], more=tuple(errors[1:]))


def collect(errors: list[tuple[str, str]], check: Check, value: Any, path: str) -> Any:
    """check(value, path), its errors added to ERRORS instead of raised (then None)."""
    try:
        return check(value, path)
    except ConfigError as exc:
        errors.extend(exc.errors)
        return None


def obj(spec: dict[str, tuple[Check, Any]]) -> Check:
    """An object with exactly these keys; (check, default) per key, REQUIRED for required."""

    def check(value: Any, path: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise ConfigError(path or "file", "must be an object")
        errors = [(f"{path}.{key}" if path else str(key), "unknown key") for key in value if key not in spec]
        out = {}
        for key, (inner, default) in spec.items():
            sub = f"{path}.{key}" if path else key
            if key in value:
                out[key] = collect(errors, inner, value[key], sub)
            elif default is REQUIRED:
                errors.append((sub, "is required"))
            else:
                out[key] = default() if callable(default) else default
        if errors:
            raise ConfigError.of(errors)
        return out

    return check


def list_of(inner: Check, max_items: int = 1000, min_items: int = 0) -> Check:
    def check(value: Any, path: str) -> list[Any]:
        if not isinstance(value, list):
            raise ConfigError(path, "must be a list")
        if not min_items <= len(value) <= max_items:
            raise ConfigError(path, f"must have {min_items} to {max_items} items")
        errors: list[tuple[str, str]] = []
        out = [collect(errors, inner, item, f"{path}[{i}]") for i, item in enumerate(value)]
        if errors:
            raise ConfigError.of(errors)
        return out

    return check


def string(max_len: int = 200, pattern: re.Pattern[str] | None = None, what: str = "",
           allow_empty: bool = False) -> Check:
    def check(value: Any, path: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(path, "must be a string")
        if not allow_empty and not value.strip():
            raise ConfigError(path, "must not be empty")
        if len(value) > max_len:
            raise ConfigError(path, f"must be at most {max_len} characters")
        if pattern is not None and not pattern.match(value):
            raise ConfigError(path, f"must be {what or pattern.pattern}")
        return value

    return check


def integer(lo: int, hi: int) -> Check:
    def check(value: Any, path: str) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(path, "must be a whole number")
        if not lo <= value <= hi:
            raise ConfigError(path, f"must be between {lo} and {hi}")
        return value

    return check


def optional(inner: Check) -> Check:
    return lambda value, path: None if value is None else inner(value, path)


def boolean(value: Any, path: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(path, "must be true or false")
    return value


def one_of(*choices: str) -> Check:
    def check(value: Any, path: str) -> str:
        if value not in choices:
            raise ConfigError(path, f"must be one of {', '.join(choices)}")
        return value

    return check


def mapping_of(key: Check, value: Check, max_items: int = 1000) -> Check:
    """An object whose keys and values each pass their check."""

    def check(mapping: Any, path: str) -> dict[Any, Any]:
        if not isinstance(mapping, dict):
            raise ConfigError(path, "must be an object")
        if len(mapping) > max_items:
            raise ConfigError(path, f"must have at most {max_items} entries")
        errors: list[tuple[str, str]] = []
        out = {collect(errors, key, k, f"{path}.{k}"): collect(errors, value, v, f"{path}.{k}")
               for k, v in mapping.items()}
        if errors:
            raise ConfigError.of(errors)
        return out

    return check
