"""Summarize py-spy `record --format raw` files (collapsed stacks): inclusive and own shares.

    python bench/pyspy_summary.py FILE… [--top 40]

Samples are only of threads on a CPU (py-spy's default leaves idle ones out), so the shares
are of the workers' CPU time; waiting on a lock or a socket does not show.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter

FRAME = re.compile(r"(.*?) \((.*?):\d+\)$")
TRIM = ("site-packages/", "/work/main/", "lib/python3.11/")


def short(frame: str) -> str:
    m = FRAME.match(frame)
    if not m:
        return frame
    path = m.group(2)
    for marker in TRIM:
        if marker in path:
            path = path.split(marker, 1)[1]
    return f"{m.group(1)} ({path})"


def summarize(paths: list[str], top: int = 40) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                stack, _, count = line.rstrip("\n").rpartition(" ")
                if not stack or not count.isdigit():
                    continue
                n = int(count)
                total += n
                names = [short(fr) for fr in stack.split(";")]
                for name in set(names):
                    inclusive[name] += n
                own[names[-1]] += n
    if not total:
        return "no samples"
    lines = [f"{total} samples (on-CPU) in {len(paths)} file(s)", "-- inclusive"]
    skip = ("gunicorn/arbiter.py", "gunicorn/app/", "<frozen runpy>", "gunicorn/__main__.py",
            "gunicorn/workers/base.py")
    shown = 0
    for name, n in inclusive.most_common():
        if any(s in name for s in skip):
            continue
        lines.append(f"{n / total * 100:6.1f}%  {name}")
        shown += 1
        if shown >= top:
            break
    lines.append("-- own time")
    lines += [f"{n / total * 100:6.1f}%  {name}" for name, n in own.most_common(top // 2)]
    return "\n".join(lines)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("files", nargs="+")
    p.add_argument("--top", type=int, default=40)
    a = p.parse_args()
    print(summarize(a.files, a.top))
    sys.exit(0)
