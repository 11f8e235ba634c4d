"""Keyword rules: exact / contains / regex, priority, and the same answers as a brute-force scan."""
from __future__ import annotations

import random
import re

import pytest

from bridge.autoreply import Matcher, Rule, fold


def rule(id_, keywords, match="contains", priority=0, position=None):
    return Rule(id=id_, keywords=tuple(keywords), match=match, priority=priority,
                position=id_ if position is None else position, reply={"type": "text", "text": str(id_)})


CASES = [
    # (rules, text, expected rule id or None)
    ([rule(1, ["发货"])], "什么时候发货呀", 1),
    ([rule(1, ["发货"], "exact")], "什么时候发货呀", None),
    ([rule(1, ["Hours"], "exact")], "  hours ", 1),  # exact ignores case and surrounding space
    ([rule(1, ["SHIPPING"])], "Free shipping?", 1),
    ([rule(1, ["发货"], priority=1), rule(2, ["什么时候"], priority=5)], "什么时候发货", 2),
    ([rule(1, ["发货"], priority=5), rule(2, ["什么时候"], priority=5)], "什么时候发货", 1),  # tie: file order
    ([rule(1, ["发货"], priority=1), rule(2, ["什么时候发货"], "exact", priority=0)], "什么时候发货", 1),
    ([rule(1, [r"^\d{6,}$"], "regex")], "1234567", 1),
    ([rule(1, [r"^\d{6,}$"], "regex")], "12345", None),
    ([rule(1, ["订单"], priority=1), rule(2, [r"\d{6,}"], "regex", priority=9)], "订单 1234567", 2),
    ([rule(1, ["订单"], priority=9), rule(2, [r"\d{6,}"], "regex", priority=1)], "订单 1234567", 1),
    ([rule(1, ["he", "she", "his", "hers"])], "ushers", 1),  # the classic Aho-Corasick overlaps
    ([rule(1, ["abcd"]), rule(2, ["bc"], priority=3)], "xabcy", 2),
    ([], "anything", None),
    ([rule(1, ["x"])], "", None),
]


@pytest.mark.parametrize("rules, text, expected", CASES)
def test_the_best_rule_wins(rules, text, expected):
    hit = Matcher(rules).match(text)
    assert (hit.id if hit else None) == expected


def brute_force(rules, text):
    folded = fold(text)
    hits = [r for r in rules if
            (r.match == "exact" and folded in {fold(k) for k in r.keywords})
            or (r.match == "contains" and any(fold(k) and fold(k) in folded for k in r.keywords))
            or (r.match == "regex" and any(re.search(k, text) for k in r.keywords))]
    return min(hits, key=lambda r: r.rank).id if hits else None


def test_thousands_of_rules_agree_with_a_brute_force_scan():
    rng = random.Random(20261123)
    alphabet = "发货退款尺码颜色快递包邮优惠券abcxyz"
    words = lambda: "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 4)))  # noqa: E731
    rules = []
    for i in range(3000):
        kind = rng.choice(["contains"] * 6 + ["exact"] * 3 + ["regex"])
        keywords = [words() for _ in range(rng.randint(1, 3))]
        if kind == "regex":
            keywords = [re.escape(keywords[0]) + "$"]
        rules.append(rule(i, keywords, kind, priority=rng.randint(-5, 5), position=i))
    matcher = Matcher(rules)
    texts = [words() + words() + words() for _ in range(500)] + [words() for _ in range(200)]
    for text in texts:
        hit = matcher.match(text)
        assert (hit.id if hit else None) == brute_force(rules, text), text
