"""WeChat's XML bodies: refused when hostile, else read as a flat dict of the root's children."""
from __future__ import annotations

import re
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

from bridge.channels.contract import MalformedRequest

# WeChat never sends DTDs, entities, comments or processing instructions beyond the
# declaration: anything starting "<!" other than CDATA is refused before parsing.
_HOSTILE = re.compile(rb"<!(?!\[CDATA\[)")


def refuse_hostile(body: bytes) -> None:
    if _HOSTILE.search(body):
        raise MalformedRequest("DTDs, entities and comments are not accepted")


def fields(body: bytes) -> dict[str, str]:
    try:
        root: Element = SafeET.fromstring(body, forbid_dtd=True)
    except Exception as exc:
        raise MalformedRequest("body is not well-formed XML") from exc
    if root.tag != "xml":
        raise MalformedRequest("root element is not <xml>")
    return {child.tag: (child.text or "").strip() for child in root}
