"""The terms product titles are searched by, the same on SQLite and PostgreSQL.

Chinese titles have no spaces to split words at, so a title is indexed by its character
bigrams (连衣裙 → 连衣, 衣裙) and single characters; Latin letters and digits by their words
and each word's prefixes (dress → dr, dre, dres, dress). A query is cut the same way and a
product matches on enough of the query's terms: "连衣" finds 连衣裙, and "连衣群" (a typo)
still finds it on 连衣. One indexed lookup per term; no extension (pg_trgm's split of CJK
text depends on the database's locale).
"""
from __future__ import annotations

import re
import unicodedata

MAX_TERM = 32  # product_terms.term
MAX_QUERY_TERMS = 24
_RUNS = re.compile(r"[a-z0-9]+|[\u3400-\u9fff\uf900-\ufaff]+")


def _runs(text: str) -> list[str]:
    return _RUNS.findall(unicodedata.normalize("NFKC", text).lower())


def _cjk(run: str) -> bool:
    return not run[0].isascii()


def title_terms(title: str) -> set[str]:
    """What a title is found by: every character and bigram of its Chinese, every word of its
    Latin letters and digits with the word's prefixes of two letters or more."""
    terms: set[str] = set()
    for run in _runs(title):
        if _cjk(run):
            terms.update(run)
            terms.update(run[i:i + 2] for i in range(len(run) - 1))
        else:
            word = run[:MAX_TERM]
            terms.update(word[:n] for n in range(2, len(word) + 1))
            if len(word) == 1:
                terms.add(word)
    return terms


def query_terms(query: str) -> list[str]:
    """What a query looks up: its bigrams (a single character alone when it has no more), its
    Latin words whole (they match the indexed prefixes)."""
    terms: list[str] = []
    for run in _runs(query):
        if _cjk(run):
            terms.extend([run] if len(run) == 1 else [run[i:i + 2] for i in range(len(run) - 1)])
        else:
            terms.append(run[:MAX_TERM])
    return list(dict.fromkeys(terms))[:MAX_QUERY_TERMS]


def needed(terms: list[str]) -> int:
    """How many of a query's terms a product must match: half, rounded up — one wrong
    character of a Chinese query spoils two of its bigrams, never all."""
    return max(1, (len(terms) + 1) // 2)
