"""What the inbox loads first, as its page does it, timed by the server (bench/inbox_live.py, part B).

The page (bridge/web/inbox/static/app/main.js) asks, in this order: GET /api/v1/me, then
/api/v1/quick-phrases, then the three lists at once (state=queued, active, waiting; limit
500). Before them the browser gets GET /inbox/, the page's HTML, with the cookie session.
Each request carries an `X-Bench-Tag` header that the web server's access log writes next
to its status, response bytes and microseconds (`ACCESS_FORMAT`): the server's time, from
the parsed request to the last byte written, without the client's share.
"""
from __future__ import annotations

import gzip
import re
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ACCESS_FORMAT = "%({x-bench-tag}i)s %(s)s %(B)s %(D)s"
LISTS = ("queued", "active", "waiting")
CALLS = ("/inbox/", "/api/v1/me", "/api/v1/quick-phrases",
         *(f"/api/v1/conversations?state={s}&limit=500" for s in LISTS))
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def percentile(values: list[float], q: float) -> float | None:
    """The nearest-rank percentile (as bench/reply_latency.py takes it); None of nothing."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def cookie_session(base: str, shop: str, username: str, password: str) -> requests.Session:
    """Sign in through the inbox's login form, as a browser does: the form's CSRF token, then POST."""
    http = requests.Session()
    form = http.get(base + "/inbox/", timeout=30)
    token = CSRF_FIELD.search(form.text)
    if form.status_code != 200 or token is None:
        raise RuntimeError(f"GET /inbox/ gave no login form ({form.status_code})")
    done = http.post(base + "/inbox/login", timeout=30, allow_redirects=False, data={
        "shop": shop, "username": username, "password": password, "csrf_token": token[1]})
    if done.status_code != 303 and done.status_code != 302:
        raise RuntimeError(f"the inbox login answered {done.status_code}")
    return http


def page_load(base: str, http: requests.Session, tag: str, pool: ThreadPoolExecutor) -> dict:
    """One first load: {"wall_ms": the client's time for all of it, path: (status, body bytes,
    gzip bytes)}; the server's times are read from the access log by TAG."""
    def get(path: str) -> tuple[str, tuple[int, int, int]]:
        resp = http.get(base + path, timeout=60, headers={"X-Bench-Tag": f"{tag}|{path}"})
        return path, (resp.status_code, len(resp.content), len(gzip.compress(resp.content, 6)))

    started = time.perf_counter()
    got = dict(get(path) for path in CALLS[:3])  # the HTML, then the page's first two calls in turn
    got.update(pool.map(get, CALLS[3:]))  # the three lists at once
    return {"wall_ms": (time.perf_counter() - started) * 1000, **got}


def server_times(access_log: Path, prefix: str) -> dict[str, list[tuple[int, int, float]]]:
    """Access-log lines whose tag starts with PREFIX: {path: [(status, bytes, ms)]}."""
    out: dict[str, list] = defaultdict(list)
    for line in access_log.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.rsplit(" ", 3)
        if len(parts) == 4 and parts[0].startswith(prefix):
            path = parts[0].split("|", 1)[1]
            out[path].append((int(parts[1]), int(parts[2]) if parts[2].isdigit() else 0, int(parts[3]) / 1000))
    return out


def run(base: str, access_log: Path, viewers: dict[str, requests.Session], loads: int, warmup: int = 2) -> dict:
    """LOADS first loads per viewer (after WARMUP untimed ones), one after another."""
    results: dict[str, dict] = {}
    with ThreadPoolExecutor(len(LISTS)) as pool:
        for name, http in viewers.items():
            for n in range(warmup):
                page_load(base, http, f"warm-{name}-{n}", pool)
            loads_done = [page_load(base, http, f"B-{name}-{n}", pool) for n in range(loads)]
            time.sleep(1.5)  # gunicorn writes the access log after the response
            logged = server_times(access_log, f"B-{name}-")
            calls = {}
            for path in CALLS:
                ms = [t for _, _, t in logged.get(path, [])]
                first = loads_done[0][path]
                calls[path] = {"status": sorted({done[path][0] for done in loads_done}), "bytes": first[1],
                               "gzip_bytes": first[2], "logged": len(ms),
                               "p50_ms": percentile(ms, 0.5), "p99_ms": percentile(ms, 0.99),
                               "max_ms": max(ms) if ms else None}
            walls = [done["wall_ms"] for done in loads_done]
            results[name] = {"calls": calls, "loads": loads, "wall_p50_ms": percentile(walls, 0.5),
                             "wall_p99_ms": percentile(walls, 0.99),
                             "rows": {s: None for s in LISTS}}
            for state in LISTS:
                resp = http.get(f"{base}/api/v1/conversations?state={state}&limit=500", timeout=60)
                results[name]["rows"][state] = len(resp.json()["items"])
    return results
