"""Live event streams: ids and resuming, the slots that keep streams from taking a server's
threads, and a client that went away noticed within seconds (events/log.py, slots.py,
stream.py; web/api/live.py)."""
from __future__ import annotations

import itertools
import json
import socket
import threading
import time
from contextlib import ExitStack

import pytest
import requests
from werkzeug.serving import make_server

from bridge.events import log as event_log
from bridge.events.publish import publish
from bridge.events.stream import stream
from bridge.infra import db
from bridge.keys import events_log, streams_of_agent
from bridge.visibility import Viewer
from tests.conftest import make_app
from tests.factories import load_shop, login, post_acme, shop_doc, signed, text_xml
from tests.live import app_env, gunicorn

SHOP = 92_001  # a shop id no other test's log uses


def event(text: str, agents: list[int] | None = None) -> dict:
    audience = {"agents": agents, "queue": False} if agents is not None else {"agents": [], "queue": True}
    return {"type": "message.created", "audience": audience, "text": text}


def stepping(step: float = 0.25):
    """A clock that moves STEP seconds each time the stream reads it."""
    ticks = itertools.count(0, step)
    return lambda: next(ticks)


def parsed(frames) -> list[tuple[str | None, str | None, dict | None]]:
    """(id, event type, data) of each frame; comments dropped, a bare id kept."""
    out = []
    for chunk in "".join(frames).split("\n\n"):
        fields = dict(line.split(": ", 1) for line in chunk.split("\n") if line and not line.startswith(":")
                      and not line.startswith("retry:"))
        if fields:
            out.append((fields.get("id"), fields.get("event"),
                        json.loads(fields["data"]) if "data" in fields else None))
    return out


@pytest.fixture
def log_client(redis_url):
    """The shop's log on real Redis when running, else on a stand-in."""
    if redis_url:
        from bridge.infra.redisconn import connect, connect_for_streams

        client = connect_for_streams(connect(redis_url), 1)
    else:
        import fakeredis

        client = fakeredis.FakeRedis()
    client.delete(events_log(SHOP))
    yield client
    client.delete(events_log(SHOP))


ADMIN = Viewer(shop_id=SHOP, agent_id=1, is_admin=True)


def test_every_event_carries_its_id_and_a_reconnect_gets_what_it_missed_once(log_client):
    first = stream(log_client, ADMIN, event_log.resume(log_client, SHOP, None), max_seconds=1, clock=stepping())
    frames = [next(first), next(first)]  # retry and connected; ready with the position
    publish(log_client, SHOP, [event("一"), event("二"), event("三")])
    frames += list(first)
    seen = [(i, d["text"]) for i, kind, d in parsed(frames) if kind == "message.created"]
    assert [text for _, text in seen] == ["一", "二", "三"]
    ids = [event_log.parse_id(i) for i, _ in seen]
    assert ids == sorted(ids) and len(set(ids)) == 3  # monotonic

    # the client had "一" and lost the rest; meanwhile "四" came
    publish(log_client, SHOP, [event("四")])
    start = event_log.resume(log_client, SHOP, seen[0][0])
    assert not start.gap
    again = parsed(stream(log_client, ADMIN, start, max_seconds=1, clock=stepping()))
    assert again[0][1] == "ready"
    assert [d["text"] for _, kind, d in again if kind == "message.created"] == ["二", "三", "四"]


def test_a_client_that_heard_nothing_yet_resumes_from_where_it_started(log_client):
    publish(log_client, SHOP, [event("before")])
    ready = parsed(stream(log_client, ADMIN, event_log.resume(log_client, SHOP, None), max_seconds=0.5,
                          clock=stepping()))
    [(ready_id, kind, _)] = ready
    assert kind == "ready"
    publish(log_client, SHOP, [event("while away")])
    back = parsed(stream(log_client, ADMIN, event_log.resume(log_client, SHOP, ready_id), max_seconds=1,
                         clock=stepping()))
    assert [d["text"] for _, kind, d in back if kind == "message.created"] == ["while away"]


def test_a_gap_the_log_no_longer_holds_is_a_reset_not_a_silent_loss(log_client):
    publish(log_client, SHOP, [event(str(n)) for n in range(10)])
    ids = [i for i, _ in event_log.read(log_client, SHOP, "0-0")]
    log_client.xtrim(events_log(SHOP), maxlen=3, approximate=False)  # as EVENTS_KEPT does, later
    assert event_log.resume(log_client, SHOP, ids[2]).gap  # 3…6 are gone
    assert not event_log.resume(log_client, SHOP, ids[7]).gap  # the oldest kept: nothing lost
    frames = parsed(stream(log_client, ADMIN, event_log.resume(log_client, SHOP, ids[2]), max_seconds=0.5,
                           clock=stepping()))
    assert frames[0][1] == "reset" and frames[0][0] == ids[-1]  # reload, then on from the newest


@pytest.mark.parametrize("bogus", ["abc", "1-2-3", "99999999999999-0", "１-0", "-1-0", "1" * 30 + "-0"])
def test_an_id_this_log_never_gave_out_is_a_reset(log_client, bogus):
    publish(log_client, SHOP, [event("x")])
    assert event_log.resume(log_client, SHOP, bogus).gap


def test_a_quiet_viewer_of_a_busy_shop_does_not_fall_behind_the_log(log_client):
    """Events it may not see are passed on as a bare id with the heartbeat: its last id moves."""
    bob = Viewer(shop_id=SHOP, agent_id=2, is_admin=False)
    frames = stream(log_client, bob, event_log.resume(log_client, SHOP, None), max_seconds=20, clock=stepping(4))
    head = [next(frames), next(frames)]
    publish(log_client, SHOP, [event("for alice", agents=[1]) for _ in range(3)])
    rest = parsed(head + list(frames))
    newest = event_log.read(log_client, SHOP, "0-0")[-1][0]
    assert [kind for _, kind, _ in rest if kind not in ("ready",)] == [None]  # one bare id, no event
    assert rest[-1][0] == newest


# -- slots: per agent, per address, per process ---------------------------------------------

@pytest.fixture
def desk_app(database_url, redis_url, fake_wechat, request):
    app = make_app(database_url, redis_url, fake_wechat.url, **getattr(request, "param", {}))
    load_shop(app, shop_doc())
    yield app
    db.dispose(app)


def open_stream(client, headers):
    return client.get("/api/v1/events?max_seconds=30", headers=headers, buffered=False)


@pytest.mark.parametrize("desk_app", [{"STREAMS_PER_AGENT": 2, "STREAMS_PER_ADDRESS": 3}], indirect=True)
def test_an_agent_and_an_address_hold_only_so_many_streams(desk_app):
    client = desk_app.test_client()
    alice, bob = login(client, "alice"), login(client, "bob")
    with ExitStack() as opened:
        for headers in (alice, alice, bob):
            resp = open_stream(client, headers)
            opened.callback(resp.close)
            assert resp.status_code == 200
        too_many = open_stream(client, alice)
        assert too_many.status_code == 429 and too_many.headers["Retry-After"] == "5"
        assert too_many.get_json()["error"]["code"] == "too_many_streams"
        assert "this agent" in too_many.get_json()["error"]["message"]
        too_many.close()
        address_full = open_stream(client, bob)  # bob has one, but the address has three
        assert address_full.status_code == 429 and "this address" in address_full.get_json()["error"]["message"]
        address_full.close()
    again = open_stream(client, alice)  # the closed streams gave their slots back
    assert again.status_code == 200
    again.close()


@pytest.mark.parametrize("desk_app", [{"STREAMS_PER_PROCESS": 1}], indirect=True)
def test_a_process_keeps_its_threads_for_webhooks(desk_app):
    client = desk_app.test_client()
    alice, bob = login(client, "alice"), login(client, "bob")
    first = open_stream(client, alice)
    assert first.status_code == 200
    # Another thread, as a server's would be: an open test-client stream keeps its request's
    # context current in this one, and the next request here would share its session.
    busy = in_thread(lambda: open_stream(desk_app.test_client(), bob))
    assert busy.status_code == 503 and busy.get_json()["error"]["code"] == "streams_busy"
    assert busy.headers["Retry-After"] == "5"
    assert in_thread(lambda: post_acme(desk_app.test_client(), text_xml("o-busy", "在吗"))).status_code == 200
    first.close()
    assert open_stream(client, bob).status_code == 200


def in_thread(call):
    result = []
    thread = threading.Thread(target=lambda: result.append(call()))
    thread.start()
    thread.join(30)
    return result[0]


def test_a_client_that_hangs_up_is_noticed_within_seconds(pg_url, real_redis_url, fake_wechat):
    """A real server and a real socket: the stream ends (its slot given back) about a second
    after the client closes, not at the next heartbeat 15 s later."""
    app = make_app(pg_url, real_redis_url, fake_wechat.url)
    shop = load_shop(app, shop_doc())
    token = login(app.test_client(), "bob")["Authorization"]
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    slots_key = streams_of_agent(shop.id, shop.agents["bob"].id)
    redis = app.extensions["redis"]
    try:
        sock = socket.create_connection(("127.0.0.1", server.server_port))
        sock.sendall(f"GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n\r\n".encode())
        assert b"200" in sock.recv(200).split(b"\r\n")[0]
        assert redis.zcard(slots_key) == 1
        sock.close()
        closed = time.monotonic()
        while redis.zcard(slots_key):  # the deadline only bounds a failure
            assert time.monotonic() - closed < 10, "the stream outlived its client"
            time.sleep(0.1)
    finally:
        server.shutdown()
        db.dispose(app)


# -- fifty streams against the production layout --------------------------------------------

def push(base: str, openid: str, text: str) -> requests.Response:
    args, body = signed("acmetoken", text_xml(openid, text))
    return requests.post(f"{base}/hooks/wechat-oa/acme-oa", params=args, data=body, timeout=5)


def open_many(base: str, tokens: list[str], count: int) -> list[requests.Response]:
    """COUNT streams opened at once, the tokens taking turns."""
    session = requests.Session()
    session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=count))

    def one(n: int) -> requests.Response:
        return session.get(f"{base}/api/v1/events", headers={"Authorization": tokens[n % len(tokens)]},
                           stream=True, timeout=10)
    threads, results = [], [None] * count

    def run(n):
        results[n] = one(n)
    for n in range(count):
        threads.append(threading.Thread(target=run, args=(n,)))
        threads[-1].start()
    for thread in threads:
        thread.join()
    return results


def test_fifty_streams_leave_the_webhook_its_threads(pg_url, real_redis_url, fake_wechat):
    """The probe's setting (2 processes × 8 threads): one token opening 50 streams gets a few,
    the rest are refused, and pushes and logins are answered in WeChat's 5 s all along."""
    app = make_app(pg_url, real_redis_url, fake_wechat.url)
    load_shop(app, shop_doc())
    env = app_env(pg_url, real_redis_url, fake_wechat.url)
    with gunicorn(env, workers=2, args=("-k", "gthread", "--threads", "8")) as base:
        token = requests.post(f"{base}/api/v1/auth/login", timeout=5, json={
            "shop": "acme", "username": "bob", "password": "bob-password"}).json()["token"]
        streams = open_many(base, [f"Bearer {token}"], 50)
        try:
            statuses = sorted(r.status_code for r in streams)
            assert 1 <= statuses.count(200) <= 8, statuses  # at most half of each process's threads
            assert set(statuses) <= {200, 429, 503}, statuses
            for n in range(8):
                assert push(base, f"o-flood-{n}", "在吗").status_code == 200
            assert requests.post(f"{base}/api/v1/auth/login", timeout=5, json={
                "shop": "acme", "username": "alice", "password": "alice-password"}).status_code == 200
        finally:
            for r in streams:
                r.close()
    db.dispose(app)


def test_fifty_streams_on_a_stream_process_all_hear_the_pushes(pg_url, real_redis_url, fake_wechat):
    """README's production layout: web processes for webhooks and the API, a process of many
    threads for the streams. Fifty streams open there; each hears the push made on the web."""
    app = make_app(pg_url, real_redis_url, fake_wechat.url)
    load_shop(app, shop_doc())
    env = app_env(pg_url, real_redis_url, fake_wechat.url)
    streams_env = {**env, "STREAMS_PER_PROCESS": "60", "STREAMS_PER_AGENT": "25"}
    with gunicorn(env, workers=2, args=("-k", "gthread", "--threads", "8")) as web, \
            gunicorn(streams_env, workers=1, args=("-k", "gthread", "--threads", "64")) as streams_base:
        tokens = [login_token(web, name) for name in ("alice", "bob")]
        streams = open_many(streams_base, tokens, 50)
        try:
            assert [r.status_code for r in streams] == [200] * 50
            heard = [0] * 50
            listening = [threading.Thread(target=hear, args=(r, "请问有货吗", heard, n), daemon=True)
                         for n, r in enumerate(streams)]
            for thread in listening:
                thread.start()
            assert push(web, "o-many-streams", "请问有货吗").status_code == 200
            for thread in listening:
                thread.join(10)
            assert heard == [1] * 50  # every stream, once (a waiting shopper is the whole shop's)
        finally:
            for r in streams:
                r.close()
    db.dispose(app)


def login_token(base: str, username: str) -> str:
    resp = requests.post(f"{base}/api/v1/auth/login", timeout=5, json={
        "shop": "acme", "username": username, "password": f"{username}-password"})
    return f"Bearer {resp.json()['token']}"


def hear(resp: requests.Response, text: str, heard: list[int], n: int) -> None:
    """Count frames carrying TEXT on one stream, for a few seconds."""
    deadline = time.monotonic() + 6
    try:
        for line in resp.iter_lines(decode_unicode=True):
            if line and text in line:
                heard[n] += 1
            if time.monotonic() > deadline:
                return
    except (requests.RequestException, OSError):
        return


def test_a_page_that_reopens_its_stream_names_its_last_id_in_the_query(desk_app):
    """EventSource sends Last-Event-ID on its own reconnects; a page that had to start a new
    one (after a 429 or 503 ended the old) passes it as ?last_event_id=."""
    client = desk_app.test_client()
    alice = login(client, "alice")
    resp = client.get("/api/v1/events?max_seconds=1&last_event_id=not-an-id", headers=alice)
    assert "event: reset" in resp.get_data(as_text=True)
    resp = client.get("/api/v1/events?max_seconds=1", headers=alice)
    assert "event: ready" in resp.get_data(as_text=True)
