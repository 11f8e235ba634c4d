"""Shop data at scale (issue 14, point 8): 100,000 products, 1,000,000 orders, 200,000 shoppers
on PostgreSQL — product search, the inbox panel's load, 1,000-row upserts, and the OA ingest
ratio with and without the shop data (bench/README.md, "Shop data at scale").

    .venv/bin/python bench/shop_data.py [--products 100000] [--orders 1000000] [--shoppers 200000]

1. Two fresh PostgreSQL databases (dropped after): "data" and "empty". Both get `flask --app
   wsgi db upgrade` and the bench shop (bench/workload.py's, plus a widget channel and two
   groups); the data database's shop also has entry_routes on `category` and `order_state`.
2. The data database gets the shop data by COPY (bench/shopdata_gen.py), then VACUUM ANALYZE.
3. The web (`gunicorn -w 2 -k gthread --threads 8 wsgi:app`) on the data database, Redis db 14
   (flushed before and after). A shop-data key (`flask shopdata keys create`), an admin's token
   (POST /api/v1/auth/login). The queried shoppers write one OA push each (so each has a
   customer and a queued conversation); the heavy shopper and some others are linked to their
   user id (PUT /shop-data/links), and some have product views (POST /shop-data/views).
4. Measured over HTTP, one client: GET /api/v1/products?q=… (every query of a varied list,
   twice); the panel's load (the four calls the inbox's shop.js makes at once for a
   conversation: orders, viewed, products/hot, coupons — in parallel, as the browser does) for
   the 200-order shopper and for typical ones; the hot list without its Redis copy; 5 × PUT
   /shop-data/products and /orders of 1,000 rows each.
5. The ingest ratio as bench/run_oa.py measures it (closed loop, wrk, signed OA text pushes,
   `-w 2 -k sync`), in turns: bare app, full app on the empty database, full app on the data
   database, repeated --rounds times in rotating order.
6. In-process: read.derived_context (what routing reads when routes test category or
   order_state) for a queue page of 16 and of 200 shoppers; EXPLAIN ANALYZE of the slowest
   search and of the hot count.

Writes nothing into the repository; only 127.0.0.1 is targeted.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from adapters.wechat.push import text_xml  # noqa: E402
from adapters.wechat.signature import url_signature  # noqa: E402
from bench import run_oa, shopdata_gen, workload  # noqa: E402
from bench.run_oa import HOST, PG_ADMIN, REDIS_URL, Server, app_env, database, flask_cli, log  # noqa: E402

SHOP = "bench"
OA = workload.PLAIN["key"]
WIDGET = "bench-web"
TARGET_MS = 50.0


# -- the shop ------------------------------------------------------------------------------

def shop_document(routes: bool) -> dict:
    doc = workload.shop_document()
    shop = doc["shops"][0]
    shop["channels"].append({"kind": "widget", "key": WIDGET, "secret": "shopdata-bench-widget-secret-0123456789",
                             "require_identity": False, "allowed_origins": []})
    shop["groups"] += [{"key": "aftersales", "name": "售后"}, {"key": "womenswear", "name": "女装"}]
    shop["agents"][0]["groups"] = ["presales", "aftersales", "womenswear"]
    if routes:
        shop["entry_routes"] = [{"when": {"order_state": "refunding"}, "group": "aftersales"},
                                {"when": {"order_state": "shipped"}, "group": "aftersales"},
                                {"when": {"category": "女装"}, "group": "womenswear"}]
    return doc


def ids(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        shop_id = conn.execute("SELECT id FROM shops WHERE key = %s", (SHOP,)).fetchone()[0]
        channel_id = conn.execute("SELECT id FROM channels WHERE key = %s", (OA,)).fetchone()[0]
    return shop_id, channel_id


def vacuum(url: str) -> float:
    t0 = time.monotonic()
    with psycopg.connect(url, autocommit=True) as conn:
        for table in ("products", "product_terms", "orders", "order_buyers", "order_lines", "coupons"):
            conn.execute(f"VACUUM (ANALYZE) {table}")
    return time.monotonic() - t0


def table_sizes(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute(
            "SELECT relname, pg_size_pretty(pg_total_relation_size(oid)) FROM pg_class WHERE relname = ANY(%s) "
            "ORDER BY relname", (["products", "product_terms", "orders", "order_buyers", "order_lines"],)).fetchall())


# -- HTTP helpers --------------------------------------------------------------------------

def timed(http: requests.Session, method: str, url: str, **kw) -> tuple[float, requests.Response]:
    t0 = time.perf_counter()
    resp = http.request(method, url, timeout=60, **kw)
    elapsed = (time.perf_counter() - t0) * 1e3
    if resp.status_code >= 400:
        raise RuntimeError(f"{method} {url}: {resp.status_code} {resp.text[:300]}")
    return elapsed, resp


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50": pct(values, 50), "p90": pct(values, 90), "p99": pct(values, 99),
            "max": max(values) if values else float("nan")}


def push(base: str, who: str, text: str, msgid: int) -> None:
    resp = requests.post(base + run_oa.plain_path(workload.PLAIN), data=text_xml(who, text, msgid).encode(),
                         headers={"Content-Type": "text/xml"}, timeout=30)
    if resp.status_code != 200:
        raise RuntimeError(f"push from {who}: {resp.status_code} {resp.text[:200]}")


def key_create(env: dict) -> str:
    out = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "shopdata", "keys", "create", SHOP],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


# -- the queries ----------------------------------------------------------------------------

TYPOS = [("连衣群", "连衣裙"), ("羽绒腹", "羽绒服"), ("牛仔库", "牛仔裤"), ("双间包", "双肩包"), ("运东鞋", "运动鞋"),
         ("帆布协", "帆布鞋"), ("针只衫", "针织衫"), ("阔腿库", "阔腿裤"), ("家居腹", "家居服"), ("斜跨包", "斜挎包")]


def queries(rng: random.Random, catalogue: list[dict]) -> list[tuple[str, str]]:
    """(kind, query): a few hundred searches an agent might type."""
    g = shopdata_gen
    two = sorted({w for w in g.SEASONS + g.NEWS + g.STYLES + g.MATERIALS if len(w) == 2}
                 | {w for _, who, _ in g.CATEGORIES for w in who if len(w) == 2}
                 | {n[:2] for _, _, nouns in g.CATEGORIES for n in nouns if len(n) >= 2 and not n[0].isascii()})
    nouns = sorted({n for _, _, ns in g.CATEGORIES for n in ns})
    series = g.series_names(random.Random(0))  # not the catalogue's draw: some hit, some do not
    used = {t["title"][i:i + 2] for t in catalogue for i in range(len(t["title"]) - 1)}
    out: list[tuple[str, str]] = []
    out += [("bigram, common", w) for w in rng.sample(two, min(60, len(two)))]
    out += [("bigram, rare", w) for w in rng.sample([s for s in series if s in used], 40)]
    out += [("bigram, none", w) for w in rng.sample([s for s in series if s not in used], 10)]
    phrases = [n for n in nouns if len(n) in (3, 4)]
    phrases += [m + n for m in g.MATERIALS[:6] for n in ("衬衫", "连衣裙", "T恤", "外套")]
    phrases += [w + n for w in ("男士", "女士", "儿童") for n in ("衬衫", "卫衣", "外套", "运动鞋")]
    phrases += [s + n for s in ("碎花", "条纹", "复古", "法式") for n in ("连衣裙", "衬衫", "半身裙")]
    out += [("phrase, 3-4 chars", w) for w in rng.sample(phrases, min(70, len(phrases)))]
    out += [("phrase, long", f"{rng.choice(g.SEASONS)}{rng.choice(g.NEWS)}{rng.choice(g.STYLES)}{rng.choice(nouns)}")
            for _ in range(20)]
    out += [("typo", t) for t, _ in TYPOS]
    latin = [w[:n] for w in g.LATIN for n in (2, 3, 4) if n <= len(w)]
    out += [("latin prefix", w) for w in rng.sample(latin, 30)]
    out += [("model number", t["title"].split()[-1][:rng.choice((2, 3, 5))].lower()) for t in catalogue[:4000]
            if t["title"].split()[-1][:1].isupper()][:10]
    out += [("mixed", f"{rng.choice(g.LATIN)} {rng.choice(nouns)}") for _ in range(10)]
    out += [("single char", c) for c in "裙衫鞋包款袜帽衣"]
    return out


def measure_search(base: str, http: requests.Session, qs: list[tuple[str, str]], passes: int) -> dict:
    times: dict[tuple[str, str], list[float]] = {}
    hits: dict[str, int] = {}
    for _ in range(passes):
        for kind, q in qs:
            ms, resp = timed(http, "GET", base + "/api/v1/products", params={"q": q})
            times.setdefault((kind, q), []).append(ms)
            hits[q] = len(resp.json()["items"])
    every = [t for ts in times.values() for t in ts]
    by_kind: dict[str, list[float]] = {}
    for (kind, _), ts in times.items():
        by_kind.setdefault(kind, []).extend(ts)
    slowest = sorted(times.items(), key=lambda kv: -statistics.median(kv[1]))[:8]
    return {"all": summary(every), "by_kind": {k: summary(v) for k, v in by_kind.items()},
            "slowest": [(kind, q, statistics.median(ts), hits[q]) for (kind, q), ts in slowest],
            "empty": sum(1 for q in hits.values() if q == 0), "queries": len(times)}


PANEL = ("shop-panel",)


def panel_once(base: str, sessions: list[requests.Session], pool: ThreadPoolExecutor,
               conversation_id: int) -> tuple[float, dict[str, float], int]:
    """The panel as shop.js loads it: one call, GET …/shop-panel (orders, views, hot, coupons)."""
    t0 = time.perf_counter()
    ms, resp = timed(sessions[0], "GET", f"{base}/api/v1/conversations/{conversation_id}/shop-panel")
    wall = (time.perf_counter() - t0) * 1e3
    return wall, {"shop-panel": ms}, len(resp.json()["orders"])


def measure_panel(base: str, sessions: list[requests.Session], pool: ThreadPoolExecutor,
                  conversations: list[int], loads: int) -> dict:
    walls: list[float] = []
    calls: dict[str, list[float]] = {name: [] for name in PANEL}
    shown = []
    for n in range(loads):
        wall, each, orders = panel_once(base, sessions, pool, conversations[n % len(conversations)])
        walls.append(wall)
        shown.append(orders)
        for name, ms in each.items():
            calls[name].append(ms)
    return {"wall": summary(walls), "calls": {k: summary(v) for k, v in calls.items()},
            "orders_shown": (min(shown), max(shown))}


def measure_sequential(base: str, http: requests.Session, path: str, loads: int,
                       before=None) -> dict:
    out = []
    for _ in range(loads):
        if before:
            before()
        ms, _ = timed(http, "GET", base + path)
        out.append(ms)
    return summary(out)


def product_rows(rng: random.Random, catalogue: list[dict], start: int, count: int = 1000) -> list[dict]:
    """COUNT products: half existing ids (a new title and price), half new ones."""
    series = shopdata_gen.series_names(random.Random(1))
    out = []
    for n in range(count):
        pid = rng.randrange(len(catalogue)) if n % 2 else 10_000_000 + start + n
        row = shopdata_gen.product(rng, pid, series)
        out.append({"id": shopdata_gen.product_id(pid), "title": row["title"],
                    "price": f"{row['price_cents'] // 100}.{row['price_cents'] % 100:02d}",
                    "image": f"https://img.example.com/{pid}.jpg", "url": f"https://shop.example.com/item/{pid}",
                    "category": row["category"], "page_path": f"pages/item/item?id={pid}",
                    "on_sale": row["on_sale"]})
    return list({r["id"]: r for r in out}.values())  # an existing id drawn twice: once


def order_rows(rng: random.Random, catalogue: list[dict], n_orders: int, n_shoppers: int, start: int,
               count: int = 1000) -> list[dict]:
    """COUNT orders: half existing numbers (moved on: shipped), half new ones of random shoppers."""
    now = shopdata_gen.utcnow()
    out = {}
    for n in range(count):
        number = shopdata_gen.order_number(rng.randrange(shopdata_gen.HEAVY, n_orders) if n % 2
                                           else 50_000_000 + start + n)
        shopper = rng.randrange(1, n_shoppers)
        created = now - timedelta(days=rng.random() * 30)
        items = [{"product_id": catalogue[shopdata_gen.popular(rng, len(catalogue))]["id"],
                  "quantity": rng.randint(1, 3), "price": "99.00"} for _ in range(rng.randint(1, 3))]
        buyer = {"openids": {OA: shopdata_gen.openid(shopper)}}
        if shopdata_gen.user_id(shopper):
            buyer["user_id"] = shopdata_gen.user_id(shopper)
        out[number] = {"number": number, "buyer": buyer, "items": items,
                       "amount": f"{sum(i['quantity'] for i in items) * 99}.00", "state": "shipped",
                       "logistics": {"company": "顺丰速运", "tracking_number": f"SF{rng.randrange(10**11, 10**12)}"},
                       "created_at": created.isoformat(), "updated_at": now.isoformat()}
    return list(out.values())


def measure_upserts(base: str, key: str, catalogue: list[dict], opts, rng: random.Random) -> dict:
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key}"
    out = {}
    for kind in ("products", "orders"):
        times, sizes = [], []
        for n in range(opts.upsert_repeats):
            items = product_rows(rng, catalogue, n * 1000) if kind == "products" else \
                order_rows(rng, catalogue, opts.orders, opts.shoppers, n * 1000)
            body = json.dumps({"items": items}, ensure_ascii=False).encode()
            ms, resp = timed(http, "PUT", base + f"/api/v1/shop-data/{kind}", data=body,
                             headers={"Content-Type": "application/json"})
            if resp.json().get("upserted") != len(items):
                raise RuntimeError(f"PUT {kind}: {resp.text[:200]}")
            times.append(ms)
            sizes.append((len(items), len(body)))
        out[kind] = {"median": statistics.median(times), "max": max(times), "times": times, "sizes": sizes}
    return out


# -- ingest --------------------------------------------------------------------------------

def signed_pool(path: Path, texts: list[str], tag: str, count: int, msgid_base: int) -> None:
    """COUNT plaintext OA pushes, each with its own nonce and signature (a signature carries one
    body since 9018a31, adapters/wechat/replay.py), one "path<TAB>body" line each for oa.lua's
    BENCH_POOL; openids cycle over run_oa's OPENIDS, as its closed loop does."""
    ch, now = workload.PLAIN, int(time.time())
    with open(path, "w", encoding="utf-8") as f:
        for i in range(count):
            nonce = str(msgid_base + i)
            sig = url_signature(ch["token"], str(now), nonce)
            body = text_xml(f"o{tag}0_{i % run_oa.OPENIDS}", texts[i % len(texts)], msgid_base + i, now)
            f.write(f"/hooks/wechat-oa/{ch['key']}?signature={sig}&timestamp={now}&nonce={nonce}&openid=x\t{body}\n")


def measure_ingest(opts, empty_env: dict, data_env: dict, workdir: Path) -> dict:
    """bench/run_oa.py's closed loop (wrk -t1 -c16, gunicorn -w 2 -k sync, its texts and openids),
    three apps in turns: bare, full on the empty database, full on the data database; the order
    rotates each round. Every push is signed on its own (signed_pool)."""
    doc = workload.shop_document()
    texts = [t for _, t in workload.texts(doc["shops"][0]["auto_replies"], 2000)]
    wrk_opts = SimpleNamespace(wrk=opts.wrk, wrk_threads=1, connections=16, workers=2, worker_class="sync",
                               threads=4)
    apps = {"bare": Server("bench.bare:app", data_env, wrk_opts, workdir / "bare.log"),
            "before": Server("wsgi:app", empty_env, wrk_opts, workdir / "before.log"),
            "after": Server("wsgi:app", data_env, wrk_opts, workdir / "after.log")}
    tags = {"bare": "b", "before": "c", "after": "d"}
    rounds: dict[str, list[dict]] = {name: [] for name in apps}
    warm: dict[str, int] = {}
    pool = workdir / "pool.txt"

    def load(name: str, seconds: int, base: int) -> dict:
        signed_pool(pool, texts, tags[name], opts.pool_per_second * seconds, base)
        return run_oa.wrk(apps[name].port, seconds, wrk_opts, {"BENCH_POOL": str(pool)})

    try:
        log(f"ingest: warm-up 2s each, then {opts.rounds} rounds of {opts.round_seconds}s per app")
        for i, name in enumerate(apps):
            warm[name] = load(name, 2, (1 + i) * 10**12)["sent"]
        order = list(apps)
        for n in range(opts.rounds):
            for name in order[n % 3:] + order[:n % 3]:
                rounds[name].append(load(name, opts.round_seconds, 4 * 10**12 + n * 10**10))
        time.sleep(3)
    finally:
        for server in apps.values():
            server.stop()
    merged = {name: run_oa.merge_rounds(r) for name, r in rounds.items()}
    return {name: {"rps": m["rps"], "rounds": m["rounds"], "p50_ms": m["p50_us"] / 1e3,
                   "p99_ms": m["p99_us"] / 1e3, "ok": m["ok"], "sent": m["sent"], "errors": m["errors"],
                   "sent_with_warmup": m["sent"] + warm[name], "replied": m["replied"], "unanswered": m["unanswered"],
                   "other": m["other"], "exhausted": m["exhausted"],
                   "cpu_ms": m["cpu_ms_per_request"], "by_process": m["cpu_ms_by_process"]}
            for name, m in merged.items()}


def inbound_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM messages WHERE direction = 'in'").fetchone()[0]


# -- in-process: routing's lookups, EXPLAIN ----------------------------------------------------

def engine_of(url: str):
    from sqlalchemy import create_engine

    from bridge.config import normalize_database_url

    return create_engine(normalize_database_url(url))


def measure_derived(url: str, shop_id: int, channel_id: int, opts, catalogue: list[dict]) -> dict:
    from sqlalchemy.orm import Session

    from bridge.models import Customer
    from bridge.shopdata import read

    rng = random.Random(5)
    engine = engine_of(url)
    out = {}
    with Session(engine) as session:
        def page(size: int, heavy: bool = False) -> list:
            shoppers = [0] if heavy else [rng.randrange(1, opts.shoppers) for _ in range(size)]
            return [(Customer(id=-(i + 1), shop_id=shop_id, channel_id=channel_id,
                              external_id=shopdata_gen.openid(s),
                              entry_product=catalogue[rng.randrange(len(catalogue))]["id"] if i % 2 else None,
                              entry_order=None), "wechat_oa") for i, s in enumerate(shoppers)]

        for label, size, heavy in (("page of 16", 16, False), ("page of 200", 200, False),
                                   ("the 200-order shopper", 1, True)):
            times = []
            for _ in range(opts.derived_repeats):
                shoppers = page(size, heavy)
                t0 = time.perf_counter()
                got = read.derived_context(session, shop_id, shoppers, {"category", "order_state"})
                times.append((time.perf_counter() - t0) * 1e3)
                session.rollback()
            found = sum(1 for v in got.values() if "order_state" in v)
            out[label] = {**summary(times), "with_state": f"{found}/{len(got)}"}
    engine.dispose()
    return out


def explain(url: str, shop_id: int, slow_query: str, now) -> dict[str, str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the statements read.search and read.hot send, captured as
    SQLAlchemy sends them."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from bridge.shopdata import read

    engine = engine_of(url)
    sent: list[tuple[str, object]] = []

    @event.listens_for(engine, "before_cursor_execute")
    def capture(conn, cursor, statement, parameters, context, executemany):
        sent.append((statement, parameters))

    plans = {}
    for label, call in ((f"search {slow_query!r}", lambda s: read.search(s, shop_id, slow_query)),
                        ("hot (30 days of order lines)", lambda s: read.sold(s, shop_id, now))):
        with Session(engine) as session:
            sent.clear()
            call(session)
            statement, parameters = sent[0]
        with engine.connect() as conn:
            rows = conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
            plans[label] = "\n".join(r[0] for r in rows)
    engine.dispose()
    return plans


# -- the run ---------------------------------------------------------------------------------

def run(opts) -> dict:
    result: dict = {"settings": {k: v for k, v in vars(opts).items() if k != "json"}}
    busy = run_oa.wait_quiet(opts.wait_quiet)
    result["busy_before"] = busy
    run_oa.flush_redis()
    with tempfile.TemporaryDirectory(prefix="kefu-bench-shopdata-") as tmp, \
            database("postgresql", Path(tmp), opts.pg_admin) as empty_url, \
            database("postgresql", Path(tmp), opts.pg_admin) as data_url:
        workdir = Path(tmp)
        empty_env, data_env = app_env(empty_url), app_env(data_url)
        for url, env, routes in ((empty_url, empty_env, False), (data_url, data_env, True)):
            shop_file = workdir / f"shop-{routes}.json"
            shop_file.write_text(json.dumps(shop_document(routes), ensure_ascii=False), encoding="utf-8")
            flask_cli(env, "db", "upgrade")
            flask_cli(env, "shops", "load", str(shop_file))
        shop_id, channel_id = ids(data_url)

        log(f"load: {opts.products:,} products, {opts.orders:,} orders over {opts.shoppers:,} shoppers (COPY)")
        now = shopdata_gen.utcnow()
        t0 = time.monotonic()
        loaded = shopdata_gen.load(data_url, shop_id, channel_id, OA, opts.products, opts.orders, opts.shoppers,
                                   now, log)
        catalogue = loaded.pop("catalogue")
        loaded["copy_seconds"] = time.monotonic() - t0
        loaded["vacuum_analyze_seconds"] = vacuum(data_url)
        loaded["sizes"] = table_sizes(data_url)
        result["load"] = loaded
        log(f"load: done in {loaded['copy_seconds']:.0f}s + VACUUM ANALYZE {loaded['vacuum_analyze_seconds']:.0f}s")

        rng = random.Random(17)
        key = key_create(data_env)
        web_opts = SimpleNamespace(workers=2, worker_class="gthread", threads=8)
        web = Server("wsgi:app", data_env, web_opts, workdir / "web.log")
        base = f"http://{HOST}:{web.port}"
        try:
            shop_http = requests.Session()
            shop_http.headers["Authorization"] = f"Bearer {key}"
            token = requests.post(base + "/api/v1/auth/login", timeout=30, json={
                "shop": SHOP, "username": "bench", "password": "bench-password"}).json()["token"]
            sessions = []
            for _ in range(4):
                s = requests.Session()
                s.headers["Authorization"] = f"Bearer {token}"
                sessions.append(s)
            http = sessions[0]

            # The shoppers the panel is loaded for: the heavy one and typical ones, each with a conversation.
            typical = rng.sample(range(1, opts.shoppers), opts.typical)
            log(f"setup: {1 + len(typical)} shoppers write, links, views")
            for n, s in enumerate([0] + typical):
                push(base, shopdata_gen.openid(s), "你好，我的订单到哪了", 9 * 10**12 + n)
            linked = [s for s in [0] + typical if shopdata_gen.user_id(s)]
            timed(shop_http, "PUT", base + "/api/v1/shop-data/links", json={"items": [
                {"user_id": shopdata_gen.user_id(s), "openids": {OA: shopdata_gen.openid(s)}} for s in linked]})
            views = [{"product_id": catalogue[rng.randrange(len(catalogue))]["id"],
                      "buyer": {"openids": {OA: shopdata_gen.openid(s)}},
                      "viewed_at": (now - timedelta(minutes=rng.randrange(1, 5000))).isoformat()}
                     for s in [0] * 30 + typical[: len(typical) // 2] * 5]
            timed(shop_http, "POST", base + "/api/v1/shop-data/views", json={"items": views})
            with psycopg.connect(data_url) as conn:
                conv = dict(conn.execute(
                    "SELECT cu.external_id, c.id FROM conversations c JOIN customers cu ON cu.id = c.customer_id "
                    "WHERE cu.channel_id = %s", (channel_id,)).fetchall())
            heavy_conv = conv[shopdata_gen.openid(0)]
            typical_convs = [conv[shopdata_gen.openid(s)] for s in typical]
            result["setup"] = {"typical": len(typical), "linked_to_user_id": len(linked), "views": len(views)}

            # Warm the workers (first requests import and connect) and the hot list's copy.
            with ThreadPoolExecutor(4) as pool:
                for _ in range(6):
                    panel_once(base, sessions, pool, heavy_conv)
                    timed(http, "GET", base + "/api/v1/products", params={"q": "连衣裙"})

            qs = queries(rng, catalogue)
            log(f"search: {len(qs)} queries × {opts.search_passes}")
            result["search"] = measure_search(base, http, qs, opts.search_passes)

            log("panel: the 200-order shopper, typical shoppers")
            with ThreadPoolExecutor(4) as pool:
                result["panel_heavy"] = measure_panel(base, sessions, pool, [heavy_conv], opts.panel_loads)
                result["panel_typical"] = measure_panel(base, sessions, pool, typical_convs, opts.panel_loads)
            import redis

            from bridge import keys as redis_keys

            client = redis.Redis.from_url(REDIS_URL)
            hot_key = redis_keys.hot_products(shop_id)
            result["orders_heavy_alone"] = measure_sequential(
                base, http, f"/api/v1/conversations/{heavy_conv}/orders", opts.panel_loads)
            result["orders_heavy_200"] = measure_sequential(
                base, http, f"/api/v1/conversations/{heavy_conv}/orders?limit=200", opts.panel_loads // 2)
            result["hot_cold"] = measure_sequential(base, http, "/api/v1/products/hot", opts.hot_cold_loads,
                                                    before=lambda: client.delete(hot_key))
            log("upserts: 1,000 products, 1,000 orders, each ×" + str(opts.upsert_repeats))
            result["upserts"] = measure_upserts(base, key, catalogue, opts, rng)
            # An upsert forgets the hot list: the panel's first load after it counts again.
            with ThreadPoolExecutor(4) as pool:
                cold = []
                for _ in range(opts.hot_cold_loads):
                    client.delete(hot_key)
                    cold.append(panel_once(base, sessions, pool, typical_convs[0])[0])
                result["panel_after_upsert"] = summary(cold)
        finally:
            web.stop()

        stored_before = inbound_count(data_url)
        if opts.rounds:
            run_oa.wait_quiet(opts.wait_quiet)
            result["ingest"] = measure_ingest(opts, empty_env, data_env, workdir)
            result["ingest_stored"] = {"before": inbound_count(empty_url),
                                       "after": inbound_count(data_url) - stored_before}

        log("in-process: routing's derived context, EXPLAIN")
        result["derived"] = measure_derived(data_url, shop_id, channel_id, opts, catalogue)
        slow = result["search"]["slowest"][0][1]
        result["explain"] = explain(data_url, shop_id, slow, now)
    run_oa.flush_redis()
    return result


# -- the report ------------------------------------------------------------------------------

def ok(ms: float) -> str:
    return "ok" if ms <= TARGET_MS else "MISSED"


def report(r: dict) -> None:
    L = r["load"]
    print()
    print(f"code: {run_oa.code_version()}; {time.strftime('%Y-%m-%d %H:%M %Z')}; machine "
          f"{r['busy_before']:.0%} busy before the run")
    print(f"data: {L['products']:,} products ({L['product_terms']:,} search terms), {L['orders']:,} orders "
          f"({L['order_lines']:,} lines, {L['order_buyers']:,} buyer rows), {L['shoppers_with_orders']:,} shoppers "
          f"with orders (median {L['orders_per_shopper_median']}, most of a typical one "
          f"{L['orders_per_shopper_max_typical']}, the heavy one {L['heavy_orders']}), {L['coupons']} coupons")
    print(f"load: COPY {L['copy_seconds']:.0f} s (products {L['products_seconds']:.0f} s, orders "
          f"{L['orders_seconds']:.0f} s), VACUUM ANALYZE {L['vacuum_analyze_seconds']:.0f} s; sizes "
          + ", ".join(f"{k} {v}" for k, v in L["sizes"].items()))
    print()
    print("HTTP, one client, web gunicorn -w 2 -k gthread --threads 8 (client wall clock, ms)")
    head = f"{'what':<58}{'n':>6}{'p50':>9}{'p90':>9}{'p99':>9}{'max':>9}  target p99 ≤ 50"
    print(head)
    print("-" * len(head))

    def line(label: str, s: dict, target: bool = False) -> None:
        print(f"{label:<58}{s['n']:>6}{s['p50']:>9.1f}{s['p90']:>9.1f}{s['p99']:>9.1f}{s['max']:>9.1f}"
              + (f"  {ok(s['p99'])}" if target else ""))

    S = r["search"]
    line(f"search GET /products?q= (all {S['queries']} queries)", S["all"], True)
    for kind, s in S["by_kind"].items():
        line(f"  {kind}", s)
    for name, key in (("the 200-order shopper", "panel_heavy"), ("typical shoppers", "panel_typical")):
        P = r[key]
        line(f"panel load, {name} (GET …/shop-panel)", P["wall"], True)
        for call, s in P["calls"].items():
            line(f"  {call}", s)
    line("orders alone, the 200-order shopper (limit 50)", r["orders_heavy_alone"])
    line("orders alone, the 200-order shopper (limit=200)", r["orders_heavy_200"])
    line("products/hot without its Redis copy (recounted)", r["hot_cold"])
    line("panel load just after an upsert (hot list forgotten)", r["panel_after_upsert"])
    print()
    print("slowest searches (median ms, items returned): " + "; ".join(
        f"{q!r} [{kind}] {ms:.1f} ms, {n}" for kind, q, ms, n in S["slowest"]))
    print(f"queries with no result: {S['empty']} of {S['queries']}")
    print()
    U = r["upserts"]
    for kind in ("products", "orders"):
        u = U[kind]
        print(f"PUT /shop-data/{kind}, {u['sizes'][0][0]} rows ({u['sizes'][0][1] / 1024:.0f} KB): "
              f"median {u['median']:.0f} ms, max {u['max']:.0f} ms over {len(u['times'])} "
              f"({', '.join(f'{t:.0f}' for t in u['times'])})")
    if "ingest" in r:
        print()
        ing = r["ingest"]
        print("ingest (bench/run_oa.py's closed loop: wrk -t1 -c16, gunicorn -w 2 -k sync, in turns)")
        head = f"{'app':<34}{'rps':>8}{'ratio':>8}{'rounds':>22}{'p50 ms':>8}{'p99 ms':>8}{'CPU ms/push':>13}"
        print(head)
        print("-" * len(head))
        bare = ing["bare"]["rps"]
        names = {"bare": "bare", "before": "full, no shop data, no routes", "after": "full, 1M orders + routes"}
        for name in ("bare", "before", "after"):
            m = ing[name]
            print(f"{names[name]:<34}{m['rps']:>8.0f}{m['rps'] / bare:>8.2f}{str(m['rounds']):>22}"
                  f"{m['p50_ms']:>8.1f}{m['p99_ms']:>8.1f}{m['cpu_ms']:>13.2f}")
        for name in ("before", "after"):
            m = ing[name]
            print(f"  {names[name]}: {m['ok']} answered 200 ({m['replied']} passive replies, {m['unanswered']} "
                  f"'success'), other {m['other']}, socket errors {m['errors']}, pool reused {m['exhausted']}")
        print(f"after / before: {ing['after']['rps'] / ing['before']['rps']:.3f}; pushes stored / sent "
              f"(warm-ups included): before {r['ingest_stored']['before']} / {ing['before']['sent_with_warmup']}, "
              f"after {r['ingest_stored']['after']} / {ing['after']['sent_with_warmup']}")
    print()
    print("routing's shop-data lookups, in-process (read.derived_context, category + order_state), ms")
    for label, s in r["derived"].items():
        print(f"  {label:<24} p50 {s['p50']:.1f}  p99 {s['p99']:.1f}  max {s['max']:.1f}  "
              f"(with an order state: {s['with_state']})")
    for label, plan in r["explain"].items():
        print()
        print(f"EXPLAIN (ANALYZE, BUFFERS) {label}:")
        print(plan)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--products", type=int, default=100_000)
    p.add_argument("--orders", type=int, default=1_000_000)
    p.add_argument("--shoppers", type=int, default=200_000)
    p.add_argument("--typical", type=int, default=40, help="typical shoppers whose panel is loaded (40)")
    p.add_argument("--search-passes", type=int, default=2, help="times each query is run (2)")
    p.add_argument("--panel-loads", type=int, default=120, help="panel loads per kind of shopper (120)")
    p.add_argument("--hot-cold-loads", type=int, default=10)
    p.add_argument("--upsert-repeats", type=int, default=5)
    p.add_argument("--derived-repeats", type=int, default=30)
    p.add_argument("--rounds", type=int, default=4, help="ingest rounds, each app in turn (4; 0 skips ingest)")
    p.add_argument("--round-seconds", type=int, default=5)
    p.add_argument("--pool-per-second", type=int, default=2500,
                   help="signed pushes made per second of a round: more than any app answers (2500)")
    p.add_argument("--wait-quiet", type=float, default=30, metavar="SECONDS",
                   help="wait up to this long for other work on the machine to stop (30)")
    p.add_argument("--pg-admin", default=PG_ADMIN)
    p.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    p.add_argument("--json", type=Path, help="also write the raw figures here (outside the repository)")
    opts = p.parse_args(argv)
    if opts.rounds and not shutil.which(opts.wrk):
        print("wrk not found: apt-get install -y wrk (or --rounds 0)", file=sys.stderr)
        return 2
    result = run(opts)
    report(result)
    if opts.json:
        opts.json.write_text(json.dumps(result, indent=2, default=str, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
