"""Values from outside — a URL's query or path, a JSON body, a channel's push — checked for what
the bridge can take, where they come in: bad input is a 4xx there, never a 500 further on.

Two traps this module exists for: `str.isdigit` takes "²" (which `int` refuses) and "٣" (which
`int` reads as 3), and `int` refuses strings of over 4,300 digits; PostgreSQL's text holds no
NUL character, and no driver can encode a lone surrogate (JSON's "\\ud800") as UTF-8.
"""
from __future__ import annotations

import re
from typing import Any

BIGINT_MAX = 2**63 - 1  # PostgreSQL's bigint and SQLite's INTEGER: no row's id lies beyond
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def whole_number(text: str, low: int, high: int) -> int | None:
    """TEXT as a whole number from LOW to HIGH (0 ≤ LOW), written in ASCII digits and nothing
    else; None for anything else."""
    if not (text.isascii() and text.isdigit()) or len(text.lstrip("0")) > len(str(high)):
        return None
    number = int(text)
    return number if low <= number <= high else None


def storable(text: str) -> bool:
    """Whether TEXT can be stored as it is: no NUL character, no lone surrogate."""
    return _UNSTORABLE.search(text) is None


def cleaned(text: str) -> str:
    """TEXT without what cannot be stored: for names that are only shown (a file's)."""
    return _UNSTORABLE.sub("", text)


def unstorable_at(value: Any) -> str | None:
    """Where in VALUE (what JSON decodes to) the first text that cannot be stored is, key or
    value, as a path ("$.items[2].text"); None when every text can be. Iterative: a deep
    document costs no recursion."""
    pending: list[tuple[str, Any]] = [("$", value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            if not storable(item):
                return path
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and not storable(key):
                    return path
                pending.append((f"{path}.{key}", child))
        elif isinstance(item, list):
            pending.extend((f"{path}[{i}]", child) for i, child in enumerate(item))
    return None
