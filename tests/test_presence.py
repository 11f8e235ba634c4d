"""Agents who are gone are not routed to (accounts/presence.py).

An agent is present while one of its logins has been heard from within PRESENCE_TIMEOUT_SECONDS
(180 here, the default). Time is moved as the session tests move it: an agent "goes quiet" when
its logins' `last_seen_at` is moved back past the timeout, which is what the clock running on
without a word from its clients does; the presence functions themselves are given `now`.
Nothing here sleeps. Every test runs on SQLite and PostgreSQL, as the routing tests do.
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from bridge import config
from bridge.accounts import presence
from bridge.accounts.models import Login
from bridge.events import stream as events_stream
from bridge.infra import db
from bridge.events.log import Listener, resume
from bridge.routing import (
    AgentState,
    Decision,
    Request,
    ShopRules,
    Waiting,
    decide,
    drain,
)
from bridge.visibility import Viewer
from tests.conftest import make_app
from tests.test_sessions import NO_AGENT, Desk, agent_of, welcome

TIMEOUT = timedelta(seconds=180)
NOW = datetime(2026, 12, 1, 2, 0, tzinfo=timezone.utc)


@pytest.fixture
def desk(app, client, fake_wechat) -> Desk:
    return Desk(app, client, fake_wechat)


def quiet(desk: Desk, username: str, **ago: float) -> None:
    """The agent's clients have not been heard from for AGO (the clock ran on without them)."""
    with db.new_session(desk.app) as session:
        session.execute(update(Login).where(Login.agent_id == desk.agent_id(username))
                        .values(last_seen_at=datetime.now(timezone.utc) - timedelta(**ago)))
        session.commit()


def shop_agents(desk: Desk) -> dict[str, dict]:
    """GET /agents as alice (the admin): asking as the agent in question would be hearing from it."""
    resp = desk.client.get("/api/v1/agents", headers=desk.h("alice"))
    return {a["username"]: a for a in resp.get_json()["items"]}


def listen(app, shop_id: int):
    return Listener(app.extensions["redis"], shop_id)


def presence_events(listener, count: int) -> list[dict]:
    """The next COUNT agent.updated events that tell a presence (the deadline only bounds a
    failure). A status change published just before the subscription may still arrive."""
    found: list[dict] = []
    deadline = time.monotonic() + 5
    while len(found) < count:
        assert time.monotonic() < deadline, f"only {found} published"
        found += [e for e in listener.events(timeout=0.2)
                  if e["type"] == "agent.updated" and "presence" in e["agent"]]
    return found


# -- the engine: an away agent is online in name only ----------------------------------------------

def state(id: int, status: str = "online", away: bool = False, active: int = 0) -> AgentState:
    return AgentState(id=id, status=status, max_concurrent=5, active=active, away=away)


@pytest.mark.parametrize("agents, expected", [
    pytest.param([state(1, away=True), state(2, active=3)], Decision("assign", "strategy", agent_id=2),
                 id="least-load-would-pick-the-away-one"),
    pytest.param([state(1, away=True), state(2, "busy")],
                 Decision("wait", "nobody_online", notice="no_agent"), id="everyone-online-is-away"),
    pytest.param([state(1, away=True, active=5), state(2, active=5)],
                 Decision("queue", "full", notice="queue"), id="present-but-full-queues"),
])
def test_the_engine_routes_to_present_agents_only(agents, expected):
    assert decide(Request(1), agents, ShopRules(), NOW) == expected


def test_an_away_agent_is_not_the_recent_or_exclusive_agent_and_drains_get_nothing():
    agents = [state(1, away=True), state(2)]
    request = Request(1, recent_agent_id=1, exclusive_agent_id=1)
    assert decide(request, agents, ShopRules(), NOW) == Decision("assign", "strategy", agent_id=2)
    assert drain([Waiting(Request(7), 0.0)], [state(1, away=True)], ShopRules(), NOW) == []


# -- through the API, the jobs and the sweep --------------------------------------------------------

def test_an_online_agent_gone_quiet_keeps_its_shoppers_takes_no_new_ones_and_is_shown_away(desk):
    desk.load()
    first = desk.served("bob", "o-first", "在吗")
    quiet(desk, "bob", minutes=4)

    team = shop_agents(desk)
    assert {k: team["bob"][k] for k in ("status", "presence", "active_conversations")} == {
        "status": "online", "presence": "away", "active_conversations": 1}
    assert team["alice"]["presence"] == "present"
    desk.write("o-second", "有人吗")
    desk.jobs()
    second = desk.conv("o-second")

    assert second["state"] == "waiting" and desk.told("o-second") == [NO_AGENT]
    assert (desk.get(first)["state"], agent_of(desk.get(first))) == ("active", "bob")

    me = desk.client.get("/api/v1/me", headers=desk.h("bob")).get_json()  # bob's client is back
    desk.jobs()

    assert (me["status"], me["presence"]) == ("online", "present")
    assert (desk.conv("o-second")["state"], agent_of(desk.conv("o-second"))) == ("active", "bob")
    assert desk.told("o-second") == [NO_AGENT, welcome("Bob")]


def test_the_strategy_chooses_among_present_agents(desk):
    desk.load()
    desk.online("bob", "carol")
    quiet(desk, "bob", seconds=181)  # least_load's tie would go to bob, the older id
    desk.write("o-new", "你好")
    desk.jobs()
    assert agent_of(desk.conv("o-new")) == "carol"


def test_after_a_restart_nobody_is_routed_to_who_has_not_been_heard_from_since(desk, database_url, redis_url,
                                                                                 fake_wechat):
    desk.load()
    desk.online("bob")
    quiet(desk, "bob", hours=1)  # the server was down for an hour; bob's status still says online
    restarted = Desk(make_app(database_url, redis_url, fake_wechat.url), None, fake_wechat)
    restarted.client, restarted.shop = restarted.app.test_client(), desk.shop
    try:
        restarted.write("o-after", "在吗")
        restarted.jobs()
        assert restarted.conv("o-after")["state"] == "waiting"

        restarted.h("bob")  # bob signs in again: heard from, and the queue drains to him
        restarted.jobs()
        assert agent_of(restarted.conv("o-after")) == "bob"
    finally:
        db.dispose(restarted.app)


def test_the_sweep_tells_each_going_away_once_and_a_return_is_told(database_url, fake_wechat):
    """On the in-process Redis stand-in."""
    app = make_app(database_url, None, fake_wechat.url)
    desk = Desk(app, app.test_client(), fake_wechat).load()
    listener = listen(desk.app, desk.shop.id)  # before bob signs in: his events come in order
    try:
        desk.online("bob")
        quiet(desk, "bob", minutes=4)
        assert desk.sweep()["gone_away"] == 1
        assert desk.sweep()["gone_away"] == 0  # told already
        desk.client.get("/api/v1/me", headers=desk.h("bob"))
        quiet(desk, "bob", minutes=4)
        assert desk.sweep()["gone_away"] == 1  # away again: told again
        told = presence_events(listener, 3)
    finally:
        db.dispose(app)
    # bob signing in while offline is not told: it changes nothing anyone waits for
    assert [(e["agent"]["username"], e["agent"]["status"], e["agent"]["presence"]) for e in told] == [
        ("bob", "online", "away"), ("bob", "online", "present"), ("bob", "online", "away")]
    assert told[0]["agent"]["active_conversations"] == 0
    bob = desk.agent_id("bob")
    assert told[0]["audience"] == {"agents": [bob], "queue": False, "shopper": None}


def test_a_transfer_to_an_away_agent_is_refused(desk):
    desk.load()
    cid = desk.served("bob", "o-t", "我要退货")
    desk.online("carol")
    quiet(desk, "carol", minutes=5)
    error = desk.post("bob", cid, "transfer", 409, agent="carol")["error"]
    assert "carol is away" in error["message"].lower()
    assert agent_of(desk.get(cid)) == "bob"


# -- how often it is written, and by whom --------------------------------------------------------

def _login(desk: Desk, username: str) -> tuple[str, str]:
    desk.h(username)
    with db.new_session(desk.app) as session:
        row = session.scalars(select(Login).where(Login.agent_id == desk.agent_id(username))).one()
        return row.shop_id, row.id


def _seen(app, key) -> datetime:
    with db.new_session(app) as session:
        return session.get(Login, key).last_seen_at


def test_a_login_is_written_at_most_every_thirty_seconds(desk):
    desk.load()
    key = _login(desk, "bob")
    start = _seen(desk.app, key)

    def heard_at(now: datetime) -> bool:
        with desk.app.app_context(), db.new_session(desk.app) as session:
            return presence.heard_from(session, session.get(Login, key), now, TIMEOUT)

    assert heard_at(start + timedelta(seconds=29)) is False
    assert _seen(desk.app, key) == start  # nothing written
    assert heard_at(start + timedelta(seconds=31)) is False
    assert _seen(desk.app, key) == start + timedelta(seconds=31)  # written; bob was not away
    later = start + timedelta(seconds=31) + TIMEOUT + timedelta(seconds=1)
    assert heard_at(later) is True  # back from away
    assert _seen(desk.app, key) == later


def test_of_two_processes_hearing_from_one_login_at_once_one_writes_and_tells(pg_url, redis_url, fake_wechat):
    """PostgreSQL: both read the login stale; the conditional UPDATE lets one through. (SQLite
    runs one writer at a time, so its second reader would only start after the first commit.)"""
    app = make_app(pg_url, redis_url, fake_wechat.url)
    try:
        desk = Desk(app, app.test_client(), fake_wechat).load()
        key = _login(desk, "bob")
        later = _seen(app, key) + TIMEOUT * 2
        with app.app_context(), db.new_session(app) as one, db.new_session(app) as two:
            first, second = one.get(Login, key), two.get(Login, key)  # both read it stale
            told = [presence.heard_from(one, first, later, TIMEOUT),
                    presence.heard_from(two, second, later + timedelta(seconds=1), TIMEOUT)]
        assert told == [True, False]
        assert _seen(app, key) == later
    finally:
        db.dispose(app)


def test_an_open_event_stream_is_its_client_heard_from_until_signed_out(desk):
    """The stream calls its beat every HEARTBEAT_SECONDS of its clock, and ends when the beat
    answers False (the login is gone); the clock is the test's."""
    desk.load()
    ticks = iter(range(0, 10_000, 10))  # every look at the clock: ten seconds on
    beats: list[int] = []

    def beat() -> bool:
        beats.append(1)
        return len(beats) < 3

    client = desk.app.extensions["redis"]
    frames = list(events_stream.stream(client, Viewer(desk.shop.id, 1, False), resume(client, desk.shop.id, None),
                                       max_seconds=600, beat=beat, clock=lambda: next(ticks)))
    assert len(beats) == 3 and ": connected" in frames[0] and "event: ready" in frames[1]

    key = _login(desk, "bob")
    later = _seen(desk.app, key) + TIMEOUT * 2
    with desk.app.app_context(), db.new_session(desk.app) as session:
        assert presence.beat(session, *key, later, TIMEOUT) is True
    assert _seen(desk.app, key) == later
    assert desk.client.post("/api/v1/auth/logout", headers=desk.h("bob")).status_code == 204
    with desk.app.app_context(), db.new_session(desk.app) as session:
        assert presence.beat(session, *key, later, TIMEOUT) is False


# -- the setting -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["59", "86401", "3m", " ", "-5", "1.5"])
def test_a_bad_presence_timeout_stops_start_up_naming_it(monkeypatch, tmp_path, value):
    monkeypatch.setenv("PRESENCE_TIMEOUT_SECONDS", value)
    with pytest.raises(RuntimeError, match="PRESENCE_TIMEOUT_SECONDS"):
        config.load(str(tmp_path))


def test_the_presence_timeout_comes_from_the_environment(monkeypatch, tmp_path):
    assert config.load(str(tmp_path))["PRESENCE_TIMEOUT_SECONDS"] == 180
    monkeypatch.setenv("PRESENCE_TIMEOUT_SECONDS", "600")
    assert config.load(str(tmp_path))["PRESENCE_TIMEOUT_SECONDS"] == 600


def test_ten_minutes_of_timeout_keep_a_quiet_agent_present(fake_wechat, database_url, redis_url):
    app = make_app(database_url, redis_url, fake_wechat.url, PRESENCE_TIMEOUT_SECONDS=600)
    try:
        desk = Desk(app, app.test_client(), fake_wechat).load()
        desk.online("bob")
        quiet(desk, "bob", minutes=9)
        desk.write("o-x", "你好")
        desk.jobs()
        assert agent_of(desk.conv("o-x")) == "bob"
    finally:
        db.dispose(app)
