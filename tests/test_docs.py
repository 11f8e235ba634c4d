"""The docs stand on their own and keep up with the code: every key the shop file takes is
named in docs/shop-file.md, each setting with its default, every range written there is the
one the loader holds, every link resolves inside the project, and no doc points outside it."""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bridge.channels import registry
from bridge.checks import ConfigError
from bridge.routing import STRATEGIES
from bridge.shops import file

ROOT = Path(__file__).resolve().parent.parent
SHOP_FILE = ROOT / "docs" / "shop-file.md"
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SHIPPED_KINDS = tuple(registry.KINDS)  # as the registry ships, before any test adds a kind
DEFAULT_SETTINGS = file.SETTINGS({}, "settings")


def shop_file() -> str:
    return SHOP_FILE.read_text(encoding="utf-8")


def row(key: str) -> str:
    """The first table row of docs/shop-file.md that documents KEY."""
    for line in shop_file().splitlines():
        if line.startswith(f"| `{key}` |"):
            return line
    raise AssertionError(f"docs/shop-file.md has no table row for `{key}`")


def keys_in(value: Any) -> Iterator[str]:
    """Every object key of a validated shop file, at every level, but not the merchant's own
    words and conditions (`rating_words`, an entry route's `when`)."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield key
            if key not in ("rating_words", "when"):
                yield from keys_in(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from keys_in(inner)


def test_every_key_of_the_shop_file_is_named():
    demo = json.loads((ROOT / "demo" / "shop.json").read_text(encoding="utf-8"))
    agent = file.agent({"username": "a", "password": "a-password", "name": "A"}, "agent")
    image = file.reply({"type": "image", "media_id": "m1"}, "reply")
    keys = {"shops", *keys_in(file.validate(demo)), *agent, *image, *file.ROUTE_CONDITIONS}
    text = shop_file()
    assert sorted(k for k in keys if f"`{k}`" not in text) == []


def test_every_setting_has_a_row_with_its_default():
    for key, default in DEFAULT_SETTINGS.items():
        assert f"`{json.dumps(default, ensure_ascii=False)}`" in row(key), key


def test_every_channel_kind_and_field_is_documented():
    text = shop_file()
    for kind in SHIPPED_KINDS:
        assert f"### `{kind}`" in text
        for field in registry.get(kind).fields:
            row(field)
    assert all(f"`{strategy}`" in row("routing") for strategy in STRATEGIES)


def _setting(key: str) -> Callable[[Any], Any]:
    return lambda value: file.SETTINGS({key: value}, "settings")


def _agent(key: str) -> Callable[[Any], Any]:
    return lambda value: file.agent({"username": "a", "password": "a-password", "name": "A", key: value}, "a")


def _auto_reply(key: str) -> Callable[[Any], Any]:
    return lambda value: file.auto_reply({"keywords": ["x"], "reply": {"text": "y"}, key: value}, "r")


RANGED = [(key, _setting(key)) for key, default in DEFAULT_SETTINGS.items()
          if isinstance(default, int) and not isinstance(default, bool) or key == "retention_days"]
RANGED += [("max_concurrent", _agent("max_concurrent")), ("weight", _agent("weight")),
           ("priority", _auto_reply("priority"))]


@pytest.mark.parametrize("key, check", RANGED, ids=[key for key, _ in RANGED])
def test_a_range_in_the_docs_is_the_one_the_loader_holds(key, check):
    found = re.search(r"whole number ([−-]?\d+)–(\d+)", row(key))
    assert found, f"the row for `{key}` gives no range"
    low, high = (int(n.replace("−", "-")) for n in found.groups())
    check(low), check(high)
    for outside in (low - 1, high + 1):
        with pytest.raises(ConfigError, match="must be between"):
            check(outside)


def slug(heading: str) -> str:
    """A heading's anchor as GitHub makes it."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_every_link_resolves_inside_the_project():
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (doc.parent / path).resolve() if path else doc
            if not linked.is_file() or ROOT not in linked.parents:
                broken.append(f"{doc.name}: {target}")
            elif anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(encoding="utf-8"), re.MULTILINE)
                if anchor not in {slug(h) for h in headings}:
                    broken.append(f"{doc.name}: {target} (no such heading)")
    assert broken == []


def test_no_doc_sends_the_reader_outside_the_project():
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        for outside in ("DESIGN.md", "../shared", "/work/shared", "shared/wechat"):
            assert outside not in text, f"{doc.relative_to(ROOT)} refers to {outside}"
