"""Keyword matching with many rules: matches per second of bridge.autoreply.Matcher.

    .venv/bin/python bench/run_matcher.py [--seconds 1.0] [--repeat 3]

Rule sets (bench/workload.py, seeded): 10 rules, the 300 of the webhook benchmark's shop,
5,000 mixed contains/exact rules plus 50 regex, the same with 500 regex, and 20,000 (the
shop file's maximum). Texts: half built to hit a rule, half that cannot hit any (which is
the worst case: every regex rule is tried). Each figure is the best of --repeat runs of
at least --seconds each. A naive baseline (every rule in rank order, first hit wins) is
timed beside it and must pick the same rule for every text.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import workload  # noqa: E402
from bridge.autoreply import Matcher, Rule, fold  # noqa: E402

SETS = [  # label, contains, exact, regex
    ("10 rules", 4, 4, 2),
    ("300 rules (webhook bench shop)", 150, 130, 20),
    ("5,000 rules: 2,500 contains, 2,450 exact, 50 regex", 2500, 2450, 50),
    ("5,000 rules: 2,250 contains, 2,250 exact, 500 regex", 2250, 2250, 500),
    ("20,000 rules: 10,000 contains, 9,900 exact, 100 regex", 10000, 9900, 100),
]


NAIVE_TEXTS = 200


class Naive:
    """Every rule in rank order; the first that matches wins (the Matcher's contract)."""

    def __init__(self, rules: list[Rule]):
        self.rules = []
        for r in sorted(rules, key=lambda r: r.rank):
            if r.match == "regex":
                self.rules.append((r, "regex", [re.compile(p) for p in r.keywords]))
            else:
                self.rules.append((r, r.match, [fold(k) for k in r.keywords]))

    def match(self, text: str | None) -> Rule | None:
        if not text:
            return None
        folded = fold(text)
        for rule, kind, keys in self.rules:
            if kind == "exact":
                if folded in keys:
                    return rule
            elif kind == "contains":
                if any(k and k in folded for k in keys):
                    return rule
            elif any(p.search(text) for p in keys):
                return rule
        return None


def rate(fn, texts: list[str], seconds: float, repeat: int) -> float:
    """Best matches/s over REPEAT runs of whole passes over TEXTS lasting ≥ SECONDS."""
    best = 0.0
    for _ in range(repeat):
        n, start = 0, time.perf_counter()
        while True:
            for t in texts:
                fn(t)
            n += len(texts)
            elapsed = time.perf_counter() - start
            if elapsed >= seconds or n >= 5_000_000:
                break
        best = max(best, n / elapsed)
    return best


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=0.5)
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--texts", type=int, default=2000)
    p.add_argument("--no-naive", dest="naive", action="store_false")
    opts = p.parse_args(argv)

    print(f"{'rule set':<56}{'build ms':>9}{'all /s':>10}{'hits /s':>10}{'misses /s':>10}"
          f"{'µs/match':>9}{'naive /s':>10}")
    for label, n_contains, n_exact, n_regex in SETS:
        specs = workload.rules(n_contains, n_exact, n_regex)
        rules = [Rule(id=i + 1, keywords=tuple(s["keywords"]), match=s["match"], priority=s["priority"],
                      position=i, reply=s["reply"]) for i, s in enumerate(specs)]
        labelled = workload.texts(specs, opts.texts)
        texts = [t for _, t in labelled]
        hits = [t for h, t in labelled if h]
        misses = [t for h, t in labelled if not h]

        start = time.perf_counter()
        matcher = Matcher(rules)
        build_ms = (time.perf_counter() - start) * 1e3
        for should_hit, text in labelled:  # the workload is what it says it is
            assert (matcher.match(text) is not None) == should_hit, (label, text)

        all_rate = rate(matcher.match, texts, opts.seconds, opts.repeat)
        hit_rate = rate(matcher.match, hits, opts.seconds, opts.repeat)
        miss_rate = rate(matcher.match, misses, opts.seconds, opts.repeat)
        naive_col = "-"
        if opts.naive:
            naive = Naive(rules)
            sample = texts[:NAIVE_TEXTS]  # the naive scan is slow: 20,000 rules ≈ 10 ms a text
            mismatches = [t for t in sample if naive.match(t) is not matcher.match(t)]
            if mismatches:
                print(f"  !! {label}: Matcher and naive scan disagree on {len(mismatches)} texts, "
                      f"e.g. {mismatches[0]!r}")
            naive_col = f"{rate(naive.match, sample, 0, 1):.0f}"
        print(f"{label:<56}{build_ms:>9.1f}{all_rate:>10.0f}{hit_rate:>10.0f}{miss_rate:>10.0f}"
              f"{1e6 / all_rate:>9.1f}{naive_col:>10}", flush=True)
    print(f"\n{opts.texts} texts per set (half hits, half misses), 2-45 characters, Chinese with "
          f"some ASCII; one thread; best of {opts.repeat} runs of ≥ {opts.seconds} s. Naive: "
          f"one pass over the first {NAIVE_TEXTS} texts, which also check that it picks the same rules.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
