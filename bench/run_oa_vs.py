"""The OA webhook of two trees side by side: this tree's app against another tree's (a git
worktree of an earlier commit), each on its own database, in turns, under the same load.

    git worktree add /tmp/before <commit>
    .venv/bin/python bench/run_oa_vs.py --other /tmp/before [--rounds 6] [--seconds 30]

Both apps run at once under identical gunicorn settings, with the bench shop of run_oa.py
(bench/workload.py) loaded into each tree's own database by that tree's own CLI, and wrk
loads them in alternating rounds (other, this, this, other, …), so a change in the
machine's speed, and the order, fall on both alike. Printed per backend: each tree's requests per second,
per round and in all, the ratio this/other, the closed-loop p50/p99, and the pushes stored
against those sent (nothing lost, nothing doubled). It measures; it asserts nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import workload  # noqa: E402
from bench.run_oa import (  # noqa: E402
    PG_ADMIN,
    Server,
    app_env,
    database,
    flask_cli,
    flush_redis,
    log,
    merge_rounds,
    plain_load,
    stored_counts,
    wait_quiet,
)


def commit_of(root: Path) -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
    return out.stdout.strip() or "?"


def run_backend(backend: str, opts: argparse.Namespace, workdir: Path) -> dict:
    doc = workload.shop_document()
    texts_file = workdir / "texts.txt"
    texts_file.write_text("\n".join(t for _, t in workload.texts(doc["shops"][0]["auto_replies"], 2000))
                          + "\n", encoding="utf-8")
    shop_file = workdir / "bench-shop.json"
    shop_file.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    trees = {"other": opts.other.resolve(), "this": ROOT}
    wait_quiet(opts.wait_quiet)
    flush_redis()
    row: dict = {"backend": backend}
    with contextlib.ExitStack() as databases, contextlib.ExitStack() as running:
        urls, servers = {}, {}
        for name, root in trees.items():
            (workdir / name).mkdir()
            urls[name] = databases.enter_context(database(backend, workdir / name, opts.pg_admin))
            env = app_env(urls[name], root)
            flask_cli(env, "db", "upgrade", root=root)
            flask_cli(env, "shops", "load", str(shop_file), root=root)
            servers[name] = Server("wsgi:app", env, opts, workdir / f"{backend}-{name}.log", root)
            running.callback(servers[name].stop)
        log(f"{backend}: warm-up 2s each")
        warm = {name: plain_load(opts, workdir, texts_file, servers[name].port, 2, (1 + n) * 10**12, "w")
                for n, name in enumerate(trees)}
        step = max(1, opts.seconds // opts.rounds)
        log(f"{backend}: {opts.rounds} rounds of {step}s each: other, this, this, other, …")
        rounds: dict[str, list[dict]] = {name: [] for name in trees}
        for n in range(opts.rounds):
            order = list(trees) if n % 2 == 0 else list(reversed(trees))  # neither always goes first
            for name in order:
                k = list(trees).index(name)
                rounds[name].append(plain_load(opts, workdir, texts_file, servers[name].port, step,
                                               (3 + k) * 10**12 + n * 10**10, "c"))
        for name in trees:
            row[name] = merge_rounds(rounds[name])
        time.sleep(3)  # requests wrk left in the listen backlog are served before the stop
        running.close()  # graceful stops: requests in flight are stored before the counts
        for name in trees:
            stored = stored_counts(urls[name])
            row[name]["sent"] = warm[name]["sent"] + row[name]["sent"]  # wrk wrote them; warm-up too
            row[name]["stored"] = stored["receipts"]
            row[name]["inbound"] = stored["inbound"]
    flush_redis()
    return row


def report(rows: list[dict], opts: argparse.Namespace) -> None:
    print(f"\nthis tree {commit_of(ROOT)} against {opts.other} ({commit_of(opts.other)}); "
          f"gunicorn -w {opts.workers} {opts.worker_class}, wrk -c{opts.connections}, "
          f"{opts.rounds} alternating rounds, {opts.seconds}s per app")
    for r in rows:
        this, other = r["this"], r["other"]
        print(f"{r['backend']:<11} other {other['rps']:>7.0f} rps (rounds {other['rounds']})  "
              f"this {this['rps']:>7.0f} rps (rounds {this['rounds']})  this/other {this['rps'] / other['rps']:.3f}")
        pairs = [t / o for t, o in zip(this["rounds"], other["rounds"]) if o]
        print(f"{'':<11} round by round this/other: {', '.join(f'{x:.2f}' for x in pairs)}")
        for name in ("other", "this"):
            f = r[name]
            print(f"{'':<11} {name:<5} p50/p99 {f['p50_us'] / 1e3:.1f}/{f['p99_us'] / 1e3:.1f} ms; "
                  f"pushes sent {f['sent']}, stored {f['stored']} (inbound messages {f['inbound']}); "
                  f"errors {f['errors']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--other", type=Path, required=True, help="the other tree (e.g. a git worktree)")
    p.add_argument("--seconds", type=int, default=30, help="closed-loop time per app (30)")
    p.add_argument("--rounds", type=int, default=6, help="alternating rounds (6)")
    p.add_argument("--backends", default="sqlite,postgresql")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--wrk-threads", type=int, default=1)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--worker-class", default="sync", choices=["sync", "gthread"])
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--pg-admin", default=PG_ADMIN)
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS")
    p.add_argument("--json", type=Path)
    opts = p.parse_args(argv)
    if not shutil.which(opts.wrk):
        print("wrk not found: apt-get install -y wrk", file=sys.stderr)
        return 2
    rows = []
    for backend in [b.strip() for b in opts.backends.split(",") if b.strip()]:
        with tempfile.TemporaryDirectory(prefix=f"kefu-vs-{backend}-") as tmp:
            rows.append(run_backend(backend, opts, Path(tmp)))
    report(rows, opts)
    if opts.json:
        opts.json.write_text(json.dumps(rows, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
