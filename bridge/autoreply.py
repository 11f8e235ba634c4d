"""Keyword auto-replies: exact, contains and regex rules, the highest priority wins.

Thousands of rules stay cheap: exact keywords are one dict lookup, contains keywords one
Aho-Corasick pass over the text, and regex rules are tried in rank order only while one
of them could still beat the best rule already found.
"""
from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Rule:
    id: int
    keywords: tuple[str, ...]
    match: str  # exact | contains | regex
    priority: int
    position: int
    reply: dict[str, Any]

    @property
    def rank(self) -> tuple[int, int]:
        """Lower is better: higher priority first, then the order in the shop file."""
        return (-self.priority, self.position)


def fold(text: str) -> str:
    return text.strip().casefold()


class KeywordIndex:
    """Aho-Corasick automaton: every keyword found in a text, in one pass."""

    def __init__(self, keywords: Iterable[tuple[str, Rule]]):
        self._goto: list[dict[str, int]] = [{}]
        self._fail: list[int] = [0]
        self._out: list[list[Rule]] = [[]]
        for word, rule in keywords:
            self._add(word, rule)
        self._link()

    def _add(self, word: str, rule: Rule) -> None:
        node = 0
        for ch in word:
            nxt = self._goto[node].get(ch)
            if nxt is None:
                nxt = len(self._goto)
                self._goto[node][ch] = nxt
                self._goto.append({})
                self._fail.append(0)
                self._out.append([])
            node = nxt
        self._out[node].append(rule)

    def _link(self) -> None:
        queue = deque(self._goto[0].values())
        while queue:
            node = queue.popleft()
            for ch, nxt in self._goto[node].items():
                queue.append(nxt)
                f = self._fail[node]
                while f and ch not in self._goto[f]:
                    f = self._fail[f]
                target = self._goto[f].get(ch, 0)
                self._fail[nxt] = target if target != nxt else 0
                self._out[nxt] = self._out[nxt] + self._out[self._fail[nxt]]

    def best(self, text: str) -> Rule | None:
        goto, fail, out = self._goto, self._fail, self._out
        node, found = 0, None
        for ch in text:
            while node and ch not in goto[node]:
                node = fail[node]
            node = goto[node].get(ch, 0)
            for rule in out[node]:
                if found is None or rule.rank < found.rank:
                    found = rule
        return found


class Matcher:
    def __init__(self, rules: Iterable[Rule]):
        self._exact: dict[str, Rule] = {}
        contains: list[tuple[str, Rule]] = []
        regexes: list[tuple[Rule, list[re.Pattern[str]]]] = []
        for rule in rules:
            if rule.match == "exact":
                for word in rule.keywords:
                    key = fold(word)
                    if key not in self._exact or rule.rank < self._exact[key].rank:
                        self._exact[key] = rule
            elif rule.match == "contains":
                contains.extend((fold(word), rule) for word in rule.keywords if fold(word))
            else:
                regexes.append((rule, [re.compile(p) for p in rule.keywords]))
        self._contains = KeywordIndex(contains)
        self._regexes = sorted(regexes, key=lambda item: item[0].rank)

    def match(self, text: str | None) -> Rule | None:
        if not text:
            return None
        folded = fold(text)
        best = self._exact.get(folded)
        hit = self._contains.best(folded)
        if hit is not None and (best is None or hit.rank < best.rank):
            best = hit
        for rule, patterns in self._regexes:
            if best is not None and rule.rank > best.rank:
                break
            if any(p.search(text) for p in patterns):
                return rule
        return best
