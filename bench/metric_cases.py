"""Issue 9's response-figure cases, played on a running tree and read back from its API.

    git worktree add /tmp/kefu-e484017 e484017
    .venv/bin/python bench/metric_cases.py /tmp/kefu-e484017 .     # before, after
    .venv/bin/python bench/metric_cases.py                          # this checkout alone

For each tree: a fresh PostgreSQL database (or SQLite, --backend sqlite), Redis db 13
(flushed), the tree's own `flask --app wsgi db upgrade` and `shops load`, the tree's app
under gunicorn and the tree's own RQ worker; WeChat's API is tests/fake_wechat.py's fake
(of this checkout), in-process. Each case has its own shop, and is played through the
public surface only: signed OA pushes (adapters/wechat/push.py) and the agent API, with
real 2-second waits so the seconds show. Printed: one table per case, a column per tree,
of each agent's first_response_seconds (conversation detail, read right after that agent's
first reply), the conversation's metrics, each shopper message's answer and /stats. A field
a tree's API lacks shows as "—". It measures; it asserts nothing.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import redis
import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapters.wechat.push import signed, text_xml
from bench.run_oa import PG_ADMIN, Server, database, flask_cli, log
from tests.fake_wechat import FakeWeChat

REDIS_URL = "redis://127.0.0.1:6379/13"
WAIT = 2.0  # seconds between steps, so response times are visible
JITTER = 1.5  # seconds: two runs of one wait differ by less (worker pick-up, HTTP)
MISSING = "—"
STATS = ("conversations", "assignments", "avg_first_response_seconds", "messages_answered",
         "response_rate_3min", "ratings")
METRICS = ("answered", "answered_within_3min", "response_rate_3min")
CASES: dict[str, tuple[str, dict]] = {  # shop key: (title, settings)
    "robot": ("1. robot then agent", {}),
    "takeover": ("1b. robot-first: an agent takes over from the robot", {"robot_first": True}),
    "transfer": ("2. transfer", {}),
    "reassign": ("3. reassignment (bob goes offline with force)", {}),
    "rating": ("4. rating", {}),
    "after": ("5. messages after the end", {"rating_on_end": False}),
}


def shop_file(path: Path) -> None:
    shops = []
    for n, (key, (_, settings)) in enumerate(CASES.items()):
        shops.append({
            "key": key, "name": key, "timezone": "Asia/Shanghai", "settings": settings,
            "channels": [{"kind": "wechat_oa", "key": f"{key}-oa", "app_id": f"wx{n:016d}",
                          "app_secret": f"secret-{key}", "token": f"{key}token"}],
            "agents": [{"username": u, "password": f"{u}-password", "name": u.capitalize(),
                        "role": "admin" if u == "alice" else "agent"} for u in ("alice", "bob", "carol")],
            "auto_replies": [{"keywords": ["发货"], "match": "contains", "reply": {"type": "text", "text": "48小时内发货"}}],
        })
    path.write_text(json.dumps({"shops": shops}, ensure_ascii=False), encoding="utf-8")


class Play:
    """One case's shop, as its shopper and its agents meet it over HTTP; figures kept in order."""

    def __init__(self, base: str, shop: str):
        self.base, self.shop, self.tokens, self.figures = base, shop, {}, {}

    def fig(self, name: str, value) -> None:
        self.figures[name] = MISSING if value is MISSING else ("null" if value is None else value)

    def h(self, user: str) -> dict[str, str]:
        if user not in self.tokens:
            resp = requests.post(f"{self.base}/api/v1/auth/login", timeout=10,
                                 json={"shop": self.shop, "username": user, "password": f"{user}-password"})
            resp.raise_for_status()
            self.tokens[user] = {"Authorization": f"Bearer {resp.json()['token']}"}
        return self.tokens[user]

    def api(self, method: str, user: str, path: str, **body) -> tuple[int, dict]:
        resp = requests.request(method, f"{self.base}/api/v1{path}", headers=self.h(user), timeout=10,
                                json=body or None)
        return resp.status_code, resp.json()

    # the shopper
    def write(self, openid: str, text: str) -> None:
        args, body = signed(f"{self.shop}token", text_xml(openid, text))
        resp = requests.post(f"{self.base}/hooks/wechat-oa/{self.shop}-oa", params=args, data=body,
                             headers={"Content-Type": "text/xml"}, timeout=10)
        resp.raise_for_status()

    # the agents
    def status(self, user: str, status: str, **extra) -> int:
        return self.api("PATCH", user, "/me", status=status, **extra)[0]

    def act(self, user: str, cid: int, action: str, label: str, **body) -> int:
        code, out = self.api("POST", user, f"/conversations/{cid}/{action}", **body)
        self.fig(label, str(code) if code < 400 else f"{code}: {out['error']['message'][:60]}")
        return code

    def reply(self, user: str, cid: int, text: str, label: str | None = None) -> int:
        return self.act(user, cid, "messages", label or f"{user} replies", type="text", text=text)

    # what the API says
    def conv(self, openid: str) -> dict:
        """The shopper's latest conversation, as the admin sees it."""
        items = self.api("GET", "alice", "/conversations?limit=500")[1]["items"]
        return max((c for c in items if c["customer"]["external_id"] == openid), key=lambda c: c["id"])

    def until(self, openid: str, state: str, agent: str | None = None) -> int:
        """The shopper's conversation once the worker has put it in STATE (with AGENT)."""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with contextlib.suppress(ValueError):  # none yet
                c = self.conv(openid)
                if c["state"] == state and (agent is None or (c["agent"] or {}).get("username") == agent):
                    return c["id"]
            time.sleep(0.1)
        raise RuntimeError(f"{self.shop}: {openid}'s conversation never became {state} {agent or ''}")

    def first_response(self, cid: int, label: str) -> None:
        self.fig(f"first_response_seconds, {label}", self.api("GET", "alice", f"/conversations/{cid}")[1]
                 .get("first_response_seconds", MISSING))

    def detail(self, cid: int, label: str = "") -> None:
        c = self.api("GET", "alice", f"/conversations/{cid}")[1]
        self.fig(f"{label}first_response_seconds (detail, now)", c.get("first_response_seconds", MISSING))
        metrics = c.get("metrics")
        for key in METRICS:
            self.fig(f"{label}metrics.{key}", MISSING if metrics is None else metrics.get(key, MISSING))
        listed = next(x for x in self.api("GET", "alice", "/conversations?limit=500")[1]["items"] if x["id"] == cid)
        self.fig(f"{label}unanswered (list row)", listed.get("unanswered", MISSING))
        for m in self.api("GET", "alice", f"/conversations/{cid}/messages")[1]["items"]:
            if m["direction"] == "in":
                answered = m.get("responded_at", MISSING)
                if answered not in (None, MISSING):
                    waited = datetime.fromisoformat(answered) - datetime.fromisoformat(m["created_at"])
                    answered = f"after {waited.total_seconds():.1f} s"
                self.fig(f"{label}「{m['text']}」 answered", "no" if answered is None else answered)

    def stats(self, *agents: str) -> None:
        rows = {r["agent"]: r for r in self.api("GET", "alice", "/stats")[1]["items"]}
        for agent in agents:
            for key in STATS:
                self.fig(f"stats {agent}.{key}", rows[agent].get(key, MISSING) if agent in rows else "(no row)")


def robot(p: Play) -> None:
    p.write("o-robot", "什么时候发货")  # the keyword robot answers
    time.sleep(WAIT)
    p.write("o-robot", "转人工")
    time.sleep(WAIT)
    p.status("bob", "online")
    cid = p.until("o-robot", "active", "bob")
    time.sleep(WAIT)
    p.reply("bob", cid, "您好，我来帮您")
    p.first_response(cid, "bob")
    p.detail(cid)
    p.stats("bob")


def takeover(p: Play) -> None:
    p.write("o-bot", "在吗")  # robot-first: the robot's fallback answers
    cid = p.conv("o-bot")["id"]
    p.fig("state after the robot answered", p.conv("o-bot")["state"])
    p.status("bob", "online")
    time.sleep(WAIT)
    if p.act("bob", cid, "accept", "bob accepts") < 400:
        time.sleep(WAIT)
        p.reply("bob", cid, "您好，我来帮您")
        p.first_response(cid, "bob")
    p.detail(cid)
    p.stats("bob")


def transfer(p: Play) -> None:
    p.status("bob", "online")
    p.write("o-move", "我要退货")
    cid = p.until("o-move", "active", "bob")
    time.sleep(WAIT)
    p.reply("bob", cid, "好的")
    p.first_response(cid, "bob")
    p.write("o-move", "怎么寄回")  # waits across the transfer
    p.status("carol", "online")
    time.sleep(WAIT)
    p.act("bob", cid, "transfer", "bob transfers to carol", agent="carol")
    p.first_response(cid, "right after the transfer")
    time.sleep(WAIT)
    p.reply("carol", cid, "寄到这个地址")
    p.first_response(cid, "carol")
    p.detail(cid)
    p.stats("bob", "carol")


def reassign(p: Play) -> None:
    p.status("bob", "online")
    p.write("o-slow", "在吗在吗")
    cid = p.until("o-slow", "active", "bob")
    p.status("carol", "online")
    time.sleep(WAIT)
    p.fig("bob goes offline with force", p.status("bob", "offline", force=True))
    p.until("o-slow", "active", "carol")
    time.sleep(WAIT)
    p.reply("carol", cid, "抱歉久等")
    p.first_response(cid, "carol")
    p.detail(cid)
    p.stats("bob", "carol")


def rating(p: Play) -> None:
    p.status("bob", "online")
    p.write("o-rated", "问个问题")
    cid = p.until("o-rated", "active", "bob")
    time.sleep(WAIT)
    p.reply("bob", cid, "请说")
    p.first_response(cid, "bob")
    p.act("bob", cid, "end", "bob ends (rating card)")
    p.write("o-rated", "5 很好")  # the shopper answers the card
    time.sleep(WAIT)
    p.reply("bob", cid, "谢谢您的评价", "bob's word after the rating")
    p.detail(cid)
    p.stats("bob")


def after(p: Play) -> None:
    p.status("bob", "online")
    p.write("o-again", "问个问题")
    first = p.until("o-again", "active", "bob")
    time.sleep(WAIT)
    p.reply("bob", first, "请说")
    p.act("bob", first, "end", "bob ends")
    p.write("o-again", "还有一个问题")  # a new conversation, routed afresh
    second = p.until("o-again", "active", "bob")
    p.fig("a new conversation", second != first)
    time.sleep(WAIT)
    p.reply("bob", first, "补充一句", "bob's late word in the ended one")
    time.sleep(WAIT)
    p.reply("bob", second, "您说", "bob replies in the new one")
    p.detail(first, "ended: ")
    p.detail(second, "new: ")
    p.stats("bob")


PLAYS = {"robot": robot, "takeover": takeover, "transfer": transfer, "reassign": reassign,
         "rating": rating, "after": after}


def commit_of(tree: Path) -> str:
    out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=False, cwd=tree, capture_output=True, text=True)
    return out.stdout.strip() or tree.name


def run_tree(tree: Path, backend: str, workdir: Path) -> dict[str, dict]:
    """Every case played on TREE's app; {case: {figure: value}}."""
    redis.Redis.from_url(REDIS_URL).flushdb()
    fake = FakeWeChat().start()
    for n, key in enumerate(CASES):
        fake.register_app(f"wx{n:016d}", f"secret-{key}")
    shops = workdir / "shops.json"
    shop_file(shops)
    with contextlib.ExitStack() as stack:
        stack.callback(fake.stop)
        stack.callback(redis.Redis.from_url(REDIS_URL).flushdb)  # last, once the worker has stopped
        url = stack.enter_context(database(backend, workdir, PG_ADMIN))
        env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": REDIS_URL, "WECHAT_API_BASE": fake.url,
               "SECRET_KEY": "cases-" + secrets.token_hex(16), "PYTHONPATH": str(tree)}
        flask_cli(env, "db", "upgrade", root=tree)
        flask_cli(env, "shops", "load", str(shops), root=tree)
        opts = SimpleNamespace(workers=2, worker_class="sync", threads=1)
        server = Server("wsgi:app", env, opts, workdir / "gunicorn.log", tree)
        stack.callback(server.stop)
        worker_log = stack.enter_context(open(workdir / "worker.log", "wb"))
        worker = subprocess.Popen([sys.executable, "-m", "flask", "--app", "wsgi", "worker"], cwd=tree,
                                  env=env, stdout=worker_log, stderr=subprocess.STDOUT)
        stack.callback(lambda: (worker.terminate(), worker.wait(timeout=30)))
        out = {}
        for key, play in PLAYS.items():
            log(f"{commit_of(tree)}: {CASES[key][0]}")
            p = Play(f"http://127.0.0.1:{server.port}", key)
            try:
                play(p)
            except (RuntimeError, KeyError, StopIteration, requests.RequestException) as exc:
                # a tree that cannot play a case: shown, not hidden
                p.fig("could not finish", f"{type(exc).__name__}: {exc}"[:90])
            out[key] = p.figures
    return out


NUMBER = re.compile(r"-?\d+(?:\.\d+)?")


def differ(name: str, cells: list[str]) -> bool:
    """Whether the trees disagree on a figure: a field one tree's API lacks is no disagreement,
    and timings within JITTER seconds (and of one sign) are the same wait measured twice."""
    present = [c for c in cells if c != MISSING]
    shapes = {NUMBER.sub("#", c) for c in present}
    if len(shapes) > 1 or not ("seconds" in name or all(c.startswith("after ") for c in present)):
        return len(set(present)) > 1
    numbers = [[float(n) for n in NUMBER.findall(c)] for c in present]
    return any(abs(a - b) >= JITTER or (a < 0) != (b < 0)
               for other in numbers[1:] for a, b in zip(numbers[0], other))


def table(title: str, columns: list[str], figures: list[dict]) -> str:
    names = list(dict.fromkeys(name for f in reversed(figures) for name in f))  # the last tree's order
    lines = [f"**{title}**", "", "| figure | " + " | ".join(columns) + " |",
             "|---|" + "---|" * len(columns)]
    for name in names:
        cells = [str(f.get(name, MISSING)).replace("|", "/") for f in figures]
        bold = differ(name, cells)
        lines.append(f"| {name} | " + " | ".join(f"**{c}**" if bold and c != MISSING else c
                                                   for c in cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("trees", nargs="*", type=Path, default=[ROOT],
                        help="project trees to play the cases on, in column order (default: this checkout)")
    parser.add_argument("--backend", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--labels", help="column names, comma-separated (default: each tree's commit)")
    opts = parser.parse_args(argv)
    trees = [t.resolve() for t in opts.trees]
    missing = [str(t) for t in trees if not (t / "wsgi.py").is_file()]
    if missing:
        parser.error(f"not a project tree (no wsgi.py): {', '.join(missing)}")
    labels = opts.labels.split(",") if opts.labels else [commit_of(t) for t in trees]
    if len(labels) != len(trees):
        parser.error("--labels needs one name per tree")
    results = []
    for tree in trees:
        with tempfile.TemporaryDirectory(prefix="metric-cases-") as workdir:
            results.append(run_tree(tree, opts.backend, Path(workdir)))
    print(f"\nbackend: {opts.backend}; waits of {WAIT:g} s between steps; in bold: figures the trees "
          f"disagree on (timings {JITTER:g} s or more apart); {MISSING}: not in that tree's API\n")
    for key, (title, _) in CASES.items():
        print(table(title, labels, [r[key] for r in results]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
