"""The wrong values tests/test_bad_input.py sends to every /api/v1 route: what any token, JSON
body, row id in a path or page argument can get wrong, as Cases naming the status each must get."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

BIGINT = 2**63 - 1
BEYOND_BIGINT = ["99999999999999999999", str(BIGINT + 1), "1" * 5000]
DEEP = "[" * 20_000 + "]" * 20_000  # nesting deeper than the decoder's recursion, in under 64 KB
HUGE_NUMBER = "1" * 5000  # past Python's 4,300-digit limit for int()


@dataclass(frozen=True)
class Case:
    """One wrong request and the status it must get; BODY is raw JSON text (or bytes)."""

    name: str
    status: int
    body: str | bytes | None = None
    query: dict[str, str] = field(default_factory=dict)
    path: dict[str, Callable[[int], str]] = field(default_factory=dict)  # route argument → its URL value
    token: str | None = None  # replaces the Authorization header's value
    content_type: str = "application/json"


def spelled(number: int, digits: str) -> str:
    """NUMBER written with another script's digits (٣ is int("٣") == 3 to Python)."""
    return str(number).translate(str.maketrans("0123456789", digits))


ARABIC, FULLWIDTH = "٠١٢٣٤٥٦٧٨٩", "０１２３４５６７８９"

TOKENS = [Case("token with NUL", 401, token="Bearer \x00abc"), Case("no Bearer", 401, token="Token abc"),
          Case("token of 10,000 letters", 401, token="Bearer " + "a" * 10_000),
          Case("token in other digits", 401, token="Bearer ²³")]


def json_cases(valid: str) -> list[Case]:
    """What any JSON body can get wrong; VALID is a good body's text, spoiled each way."""
    return [Case("not JSON", 400, "{"), Case("a JSON array", 400, "[1]"), Case("a JSON string", 400, '"x"'),
            Case("nested 20,000 deep", 400, DEEP), Case("a 5,000-digit number", 400, f'{{"n": {HUGE_NUMBER}}}'),
            Case("a surrogate in UTF-8 bytes", 400, b'{"x": "\xed\xa0\x80"}'),
            Case("NUL in a value", 400, valid.replace('"}', '\\u0000"}', 1)),
            Case("lone surrogate in a value", 400, valid.replace('"}', '\\ud800"}', 1)),
            Case("lone surrogate in a key", 400, '{"\\udc00": 1}'),
            Case("body over 64 KB", 413, '{"x": "' + "a" * 70_000 + '"}'),
            Case("form instead of JSON", 400, "a=1", content_type="application/x-www-form-urlencoded")]


def id_cases(*names: str) -> list[Case]:
    """Ids no row can have: beyond the database's integer; the real id in another script's digits."""
    cases = []
    for name in names:
        cases += [Case(f"{name} {value[:24]}", 404, path={name: lambda _, v=value: v}) for value in BEYOND_BIGINT]
        cases += [Case(f"{name} in Arabic-Indic digits", 404, path={name: lambda real: spelled(real, ARABIC)}),
                  Case(f"{name} in full-width digits", 404, path={name: lambda real: spelled(real, FULLWIDTH)}),
                  Case(f"{name} as superscript", 404, path={name: lambda _: "²"})]
    return cases


def page_cases() -> list[Case]:
    bad = ["²", "-1", "0", "1.5", "", "1e3", HUGE_NUMBER, "9" * 40, ARABIC[5], FULLWIDTH[5], " 5", "5\x00"]
    return ([Case(f"limit={v[:12]!r}", 400, query={"limit": v}) for v in bad]
            + [Case(f"before={v[:12]!r}", 400, query={"before": v}) for v in [*bad[:3], *BEYOND_BIGINT]])
