"""A Mini Program's JSON pushes (FACTS.md §3): one flat object, read as the XML pushes are — a
dict of the fields as text — so one normalizer reads both. WeChat labels JSON `text/xml`,
so the format is told by the body's first non-blank byte, never by the Content-Type."""
from __future__ import annotations

import json

from bridge.channels.contract import MalformedRequest


def format_of(body: bytes) -> str:
    """"json" or "xml", by the first byte that is not white space (after a UTF-8 BOM)."""
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start == b"{":
        return "json"
    if start == b"<":
        return "xml"
    raise MalformedRequest("body is neither a JSON object nor XML")


def fields(body: bytes) -> dict[str, str]:
    try:
        doc = json.loads(body, parse_constant=_refuse)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, NaN, a 5,000-digit number, too deep
        raise MalformedRequest("body is not valid JSON") from None
    if not isinstance(doc, dict):
        raise MalformedRequest("body is not a JSON object")
    out = {}
    for key, value in doc.items():
        if value is None:
            continue
        if isinstance(value, bool):  # as JSON spells it: never a number (a CreateTime of true is no time)
            out[key] = "true" if value else "false"
        elif isinstance(value, (str, int, float)):
            out[key] = str(value)
        else:  # a nested part of a push the bridge does not read: kept as its JSON
            out[key] = json.dumps(value, ensure_ascii=False)
    return out


def _refuse(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")
