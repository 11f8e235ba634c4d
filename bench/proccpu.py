"""Where the machine's CPU went: busy time per kind of process, from /proc/<pid>/stat.

`snapshot()` before and `split(before, snapshot())` after a phase give CPU-seconds per group:
the gunicorn workers, PostgreSQL's connection backends and each of its helpers (WAL writer,
checkpointer, autovacuum…), Redis, wrk, the kernel's workers. A process that starts and exits
between the two snapshots is not counted; the bench keeps its connections open, so that is rare.
"""
from __future__ import annotations

import collections
import os

_TICK = os.sysconf("SC_CLK_TCK")


def _group(pid: str) -> tuple[str, int] | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    comm = stat[stat.index("(") + 1:stat.rindex(")")]
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])  # utime + stime, all threads
    if comm == "postgres":
        try:
            with open(f"/proc/{pid}/cmdline") as f:
                title = f.read().replace("\0", " ").strip()
        except OSError:
            title = ""
        # "postgres: 15/main: postgres bench_x 127.0.0.1(5432) idle" is a connection backend
        name = "postgres backends" if "(" in title or "[local]" in title else \
            "postgres " + title.rsplit(":", 1)[-1].strip().split(" ")[0]
    elif comm.startswith("kworker") or comm.startswith("jbd2") or comm.startswith("ksoftirq"):
        name = "kernel " + comm.split("/")[0]
    elif comm in ("python", "python3", "gunicorn") or comm.startswith("python3."):
        name = "python (gunicorn, bench)"
    else:
        name = comm
    return name, ticks


def snapshot() -> collections.Counter:
    out: collections.Counter = collections.Counter()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            got = _group(pid)
            if got:
                out[got[0]] += got[1]
    return out


def split(before: collections.Counter, after: collections.Counter) -> dict[str, float]:
    """CPU-seconds per group between two snapshots, largest first (groups under 1% of the
    total are summed as 'other')."""
    diff = {k: (after[k] - before.get(k, 0)) / _TICK for k in after}
    total = sum(v for v in diff.values() if v > 0) or 1.0
    out: dict[str, float] = {}
    other = 0.0
    for name, secs in sorted(diff.items(), key=lambda kv: -kv[1]):
        if secs <= 0:
            continue
        if secs / total < 0.01:
            other += secs
        else:
            out[name] = secs
    if other:
        out["other"] = other
    return out


def tree_ticks(pid: int) -> int:
    """CPU ticks (user + system) of PID and its descendants, alive now."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = [int(c) for c in f.read().split()]
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12]) + sum(tree_ticks(c) for c in children)


def tree_cpu(pids: dict[str, int]) -> dict[str, int]:
    """Per server (its whole process tree) and for this process alone (senders, stream reader)."""
    own = os.times()
    return {**{k: tree_ticks(p) for k, p in pids.items()},
            "bench (this process)": round((own.user + own.system) * os.sysconf("SC_CLK_TCK"))}


def split_by_server(ticks0: dict[str, int], ticks1: dict[str, int], groups: dict[str, float]) -> dict[str, float]:
    """CPU-seconds per server and for this process, then the machine's other groups; Python
    outside them (someone else's tests, say) as "other python"."""
    ours = {k: (ticks1[k] - ticks0[k]) / os.sysconf("SC_CLK_TCK") for k in ticks0}
    python = sum(v for k, v in groups.items() if k.startswith("python"))
    rest = {k: v for k, v in groups.items() if not k.startswith("python")}
    return {k: round(v, 2) for k, v in {**ours, **rest, "other python": python - sum(ours.values())}.items()}
