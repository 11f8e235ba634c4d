"""The metrics page's daily figures: each definition pinned by a table without a database, then
GET /api/v1/stats/daily (JSON, CSV) on SQLite and PostgreSQL: the shop's days (Asia/Shanghai),
never another shop's rows, and a bad range a 400 in the API's error shape."""
from __future__ import annotations

import ast
import csv
import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bridge.conversations import lifecycle
from bridge.infra import db
from bridge.metrics import daily
from bridge.metrics.daily import Answer, BadRange, Rating, Stint, daily_figures, day_range, queued_from
from bridge.models import Agent, Assignment, Channel, Conversation, Customer, Message, Shop
from tests.factories import login
from tests.test_sessions import agent, desk  # noqa: F401  (desk: fixture)

SHANGHAI = ZoneInfo("Asia/Shanghai")
D = date(2024, 3, 10)
MIDNIGHT = datetime(2024, 3, 9, 16, tzinfo=UTC)  # D's first moment in Shanghai


def at(hhmmss: str, day: int = 9) -> datetime:
    """A moment in March 2024, UTC: at("16:00:00") is midnight of D in Shanghai."""
    return datetime.fromisoformat(f"2024-03-{day:02d}T{hhmmss}+00:00")


# -- the figures, without a database -----------------------------------------------------------

@pytest.mark.parametrize("values,median,p90", [
    ([], None, None),
    ([7.0], 7.0, 7.0),
    ([3.0, 1.0], 2.0, 3.0),  # an even count: the mean of the middle two; p90 is always a value
    ([10.0, 1.0, 5.0], 5.0, 10.0),
    (list(range(1, 11)), 5.5, 9),  # ⌈0.9·10⌉ = 9th smallest
    (list(range(1, 12)), 6, 10),  # ⌈9.9⌉ = 10th
    (list(range(70, 0, -1)), 35.5, 63),  # 0.9·70 is 63.000…01 in floats: the 63rd, not the 64th
    ([4.0] * 9 + [600.0], 4.0, 4.0),  # one slow answer in ten does not move the p90
    ([4.0] * 8 + [600.0] * 2, 4.0, 600.0),  # two do
])
def test_median_and_p90_by_nearest_rank(values, median, p90):
    assert (daily.median(values), daily.nearest_rank(values, 90)) == (median, p90)


@pytest.mark.parametrize("raw_from,raw_to,first,last", [
    (None, None, date(2024, 3, 4), D),  # the last 7 days, today included
    (None, "2024-02-02", date(2024, 1, 27), date(2024, 2, 2)),
    ("2024-03-01", None, date(2024, 3, 1), D),
    ("2024-03-10", "2024-03-10", D, D),
    ("2024-01-01", "2024-04-01", date(2024, 1, 1), date(2024, 4, 1)),  # 92 days (a leap February)
    ("2024-02-29", "2024-02-29", date(2024, 2, 29), date(2024, 2, 29)),
])
def test_a_range_of_days(raw_from, raw_to, first, last):
    days = day_range(raw_from, raw_to, today=D)
    assert (days[0], days[-1], len(days)) == (first, last, (last - first).days + 1)


# (name, query): every one a 400 — tests/test_bad_input.py sends them too.
BAD_RANGES = [
    ("93 days", {"from": "2024-01-01", "to": "2024-04-02"}),
    ("from after to", {"from": "2024-03-02", "to": "2024-03-01"}),
    ("from long ago, to today", {"from": "2000-01-01"}),
    ("to before 7 days could start", {"to": "0001-01-03"}),
    ("to on the last day there is", {"to": "9999-12-31"}),
    ("from on the first day there is", {"from": "0001-01-01", "to": "0001-01-01"}),
    *[(f"{name}={value[:14]!r}", {name: value}) for name in ("from", "to") for value in (
        "2024-1-1", "20240301", "２０２４-03-01", "²⁰²⁴-03-01", "2024-02-30", "2023-02-29", "2024-13-01",
        "2024-03-01T00:00", "2024-03-01\x00", " 2024-03-01", "", "yesterday", "x" * 10_000)],
    ("format=xml", {"format": "xml"}),
]


@pytest.mark.parametrize("name,query", [case for case in BAD_RANGES if "format" not in case[1]],
                         ids=[name for name, query in BAD_RANGES if "format" not in query])
def test_a_range_this_page_does_not_answer(name, query):
    with pytest.raises(BadRange):
        day_range(query.get("from"), query.get("to"), today=D)


def test_days_are_the_shops_local_days():
    assert daily.span([D], SHANGHAI) == (MIDNIGHT, MIDNIGHT + timedelta(days=1))
    assert (daily.local_day(at("15:59:59"), SHANGHAI), daily.local_day(at("16:00:00"), SHANGHAI)) == (D - timedelta(1), D)
    new_york = ZoneInfo("America/New_York")  # clocks went forward on 2024-03-10: a day of 23 hours
    start, end = daily.span([D], new_york)
    assert end - start == timedelta(hours=23)


@pytest.mark.parametrize("how,seq,queued_at,previous_release,expected", [
    ("route", 1, at("15:58:00"), None, at("15:58:00")),  # the first stint waited from queued_at
    ("pick", 1, at("15:58:00"), None, at("15:58:00")),
    ("pick", 1, None, None, None),  # taken over from the robot: never queued
    ("route", 1, at("16:05:00"), None, None),  # queued again later (a transfer to a group): not known
    ("route", 2, at("12:00:00"), at("15:59:00"), at("15:59:00")),  # requeued: waited from the release
    ("transfer", 2, at("15:58:00"), at("16:00:00"), None),  # passed on directly
    ("reassign", 3, at("15:58:00"), at("16:00:00"), None),
])
def test_which_stints_waited_in_the_queue_and_since_when(how, seq, queued_at, previous_release, expected):
    assert queued_from(how, seq, queued_at, at("16:00:00"), previous_release) == expected


BOB, CAROL = 2, 3


def test_a_transfer_counts_for_both_agents_and_once_for_the_shop():
    stints = [Stint(BOB, 1, at("16:00:00"), at("16:01:00"), queued_from=at("15:58:00")),
              Stint(CAROL, 1, at("16:10:00"), at("16:10:20")),  # the transfer: her clock, no queue
              Stint(BOB, 2, at("15:50:00", day=10), None, queued_from=at("15:00:00", day=10)),  # D's last hour
              Stint(BOB, 3, at("16:00:00", day=10))]  # the next day
    [shop], agents = daily_figures([D], SHANGHAI, stints, [], [], agent_ids=[BOB, CAROL, 9])
    assert (shop["conversations"], agents[BOB][0]["conversations"], agents[CAROL][0]["conversations"]) == (2, 2, 1)
    assert (shop["first_response_median"], shop["first_response_p90"]) == (40.0, 60.0)
    assert (agents[CAROL][0]["first_response_median"], agents[CAROL][0]["queue_wait_median"]) == (20.0, None)
    assert (shop["queue_wait_median"], shop["queue_wait_p90"]) == (1560.0, 3000.0)
    assert agents[9] == [daily_figures([D], SHANGHAI, [], [], [])[0][0]]  # asked for: there, empty


def test_the_three_minute_rate_and_satisfaction():
    answers = [Answer(BOB, at("17:00:00"), 180.0), Answer(BOB, at("18:00:00"), 180.1),
               Answer(CAROL, at("19:00:00"), 5.0), Answer(CAROL, at("15:59:59"), 1.0)]  # that one: the day before
    ratings = [Rating(BOB, at("20:00:00"), 5), Rating(BOB, at("20:00:00"), 4), Rating(CAROL, at("20:00:00"), 3),
               Rating(None, at("20:00:00"), 1), Rating(BOB, at("16:00:00", day=10), 1)]  # the next day
    [shop], agents = daily_figures([D], SHANGHAI, [], answers, ratings)
    assert (shop["answered"], shop["response_rate_3min"]) == (3, 0.6667)  # 180 s is within 3 minutes
    assert (agents[BOB][0]["response_rate_3min"], agents[CAROL][0]["response_rate_3min"]) == (0.5, 1.0)
    assert (shop["ratings"], shop["satisfaction"]) == (4, 0.5)  # a rating no agent's counts for the shop
    assert (agents[BOB][0]["ratings"], agents[BOB][0]["satisfaction"], agents[CAROL][0]["satisfaction"]) == (2, 1.0, 0.0)
    [empty], _ = daily_figures([D], SHANGHAI, [], [], [])
    assert (empty["response_rate_3min"], empty["satisfaction"], empty["ratings"]) == (None, None, 0)


def test_the_figures_are_pure_and_agree_with_the_lifecycle():
    tree = ast.parse(Path(daily.__file__).read_text(encoding="utf-8"))
    imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert not {m for m in imported if m.split(".")[0] in ("flask", "sqlalchemy", "redis", "bridge")}
    assert daily.FAST_REPLY_SECONDS == lifecycle.FAST_REPLY_SECONDS


# -- the API ---------------------------------------------------------------------------------

class Story:
    """Rows written as they would have been on given days: conversations, stints, answers."""

    def __init__(self, session, shop_key: str):
        self.s = session
        self.shop = session.scalar(select(Shop).where(Shop.key == shop_key))
        self.channel = session.scalar(select(Channel).where(Channel.shop_id == self.shop.id))
        self.agents = {a.username: a.id for a in session.scalars(select(Agent).where(Agent.shop_id == self.shop.id))}

    def conversation(self, queued_at: datetime | None, rated: tuple[str, datetime, int] | None = None) -> int:
        customer = Customer(shop_id=self.shop.id, channel_id=self.channel.id, external_id=f"o-{len(self.s.new)}-{queued_at}")
        self.s.add(customer)
        self.s.flush()
        row = Conversation(shop_id=self.shop.id, channel_id=self.channel.id, customer_id=customer.id, state="ended",
                           queued_at=queued_at, created_at=queued_at or MIDNIGHT)
        if rated:
            row.agent_id, row.rated_at, row.rating_score = self.agents[rated[0]], rated[1], rated[2]
        self.s.add(row)
        self.s.flush()
        return row.id

    def stint(self, cid: int, seq: int, username: str, how: str, assigned_at: datetime,
              first_response_at: datetime | None = None, released_at: datetime | None = None) -> None:
        self.s.add(Assignment(shop_id=self.shop.id, conversation_id=cid, seq=seq, agent_id=self.agents[username],
                              how=how, assigned_at=assigned_at, first_response_at=first_response_at,
                              released_at=released_at))

    def answered(self, cid: int, username: str, responded_at: datetime, seconds: float) -> None:
        asked = responded_at - timedelta(seconds=seconds)
        self.s.add(Message(shop_id=self.shop.id, conversation_id=cid, direction="in", sender="customer", type="text",
                           text="在吗", expects_reply=True, responded_at=responded_at,
                           responded_by=self.agents[username], response_seconds=seconds, created_at=asked))


def tell_story(app) -> None:
    """Around D's midnight in Shanghai: bob serves, transfers to alice; the other shop's mallory
    works the same hours."""
    with db.new_session(app) as s:
        acme = Story(s, "acme")
        a = acme.conversation(at("15:50:00"), rated=("bob", at("15:00:00"), 4))  # all of it the day before D
        acme.stint(a, 1, "bob", "route", at("15:59:59"), at("16:00:30"))
        b = acme.conversation(at("15:58:00"), rated=("alice", at("02:00:00", day=10), 5))
        acme.stint(b, 1, "bob", "route", at("16:00:00"), at("16:01:00"), released_at=at("16:10:00"))
        acme.stint(b, 2, "alice", "transfer", at("16:10:00"), at("16:10:20"))
        c = acme.conversation(at("15:00:00", day=10), rated=("bob", at("10:00:00", day=10), 3))
        acme.stint(c, 1, "bob", "route", at("15:59:59", day=10))  # D's last second; bob never answered
        d = acme.conversation(at("15:30:00", day=10))
        acme.stint(d, 1, "bob", "route", at("16:00:00", day=10))  # the day after D
        acme.answered(a, "bob", at("15:59:00"), 10)
        acme.answered(b, "bob", at("16:01:00"), 60)
        acme.answered(b, "alice", at("16:10:20"), 20)
        acme.answered(c, "bob", at("15:30:00", day=10), 400)
        acme.answered(d, "bob", at("16:00:00", day=10), 1)
        other = Story(s, "other")
        m = other.conversation(at("15:00:00"), rated=("mallory", at("17:00:00"), 1))
        other.stint(m, 1, "mallory", "route", at("16:30:00"), at("16:31:00"))
        other.answered(m, "mallory", at("16:31:00"), 999)
        s.commit()


@pytest.fixture
def story(app, shop):
    tell_story(app)


def test_a_day_in_shanghai_for_the_shop_and_each_agent(client, story):
    body = client.get("/api/v1/stats/daily?from=2024-03-10&to=2024-03-10", headers=login(client)).get_json()
    assert (body["from"], body["to"], body["timezone"], body["days"]) == ("2024-03-10", "2024-03-10",
                                                                           "Asia/Shanghai", ["2024-03-10"])
    assert set(body["agents"]) == {"alice", "bob"}  # never the other shop's mallory
    [shop], [alice], [bob] = body["shop"], body["agents"]["alice"], body["agents"]["bob"]
    assert shop == {"date": "2024-03-10", "conversations": 2, "first_response_median": 40.0, "first_response_p90": 60.0,
                    "answered": 3, "response_rate_3min": 0.6667, "ratings": 2, "satisfaction": 0.5,
                    "queue_wait_median": 1859.5, "queue_wait_p90": 3599.0}
    assert bob == {"date": "2024-03-10", "conversations": 2, "first_response_median": 60.0, "first_response_p90": 60.0,
                   "answered": 2, "response_rate_3min": 0.5, "ratings": 1, "satisfaction": 0.0,
                   "queue_wait_median": 1859.5, "queue_wait_p90": 3599.0}
    assert alice == {"date": "2024-03-10", "conversations": 1, "first_response_median": 20.0, "first_response_p90": 20.0,
                     "answered": 1, "response_rate_3min": 1.0, "ratings": 1, "satisfaction": 1.0,
                     "queue_wait_median": None, "queue_wait_p90": None}


def test_the_days_around_it_and_the_other_shops_own(client, story):
    body = client.get("/api/v1/stats/daily?from=2024-03-09&to=2024-03-11", headers=login(client)).get_json()
    before, _, after = body["shop"]
    assert (before["conversations"], before["first_response_median"], before["queue_wait_median"]) == (1, 31.0, 599.0)
    assert (before["answered"], before["ratings"], before["satisfaction"]) == (1, 1, 1.0)
    assert (after["conversations"], after["answered"], after["queue_wait_median"]) == (1, 1, 1800.0)
    theirs = client.get("/api/v1/stats/daily?from=2024-03-10&to=2024-03-10",
                        headers=login(client, "mallory", shop="other")).get_json()
    assert set(theirs["agents"]) == {"mallory"}
    [row] = theirs["shop"]
    assert (row["conversations"], row["response_rate_3min"], row["satisfaction"]) == (1, 0.0, 0.0)


@pytest.mark.parametrize("url", ["/api/v1/stats/daily.csv?from=2024-03-09&to=2024-03-11",
                                 "/api/v1/stats/daily?from=2024-03-09&to=2024-03-11&format=csv"])
def test_the_csv_opens_in_excel(client, story, url):
    resp = client.get(url, headers=login(client))
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="kefu-acme-2024-03-09-2024-03-11.csv"'
    raw = resp.get_data()
    assert raw.startswith(b"\xef\xbb\xbf\xe6\x97\xa5\xe6\x9c\x9f,")  # the BOM, then 日期 in UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert rows[0] == ["日期", "客服", "会话数", "首次响应中位数(秒)", "首次响应P90(秒)", "回复消息数", "3分钟回复率",
                       "评价数", "满意度", "排队等待中位数(秒)", "排队等待P90(秒)"]
    assert len(rows) == 1 + 3 * 3  # a day each for the shop, alice and bob
    assert [r[:2] for r in rows[4:7]] == [["2024-03-10", "全店"], ["2024-03-10", "alice"], ["2024-03-10", "bob"]]
    assert rows[4][2:] == ["2", "40.0", "60.0", "3", "0.6667", "2", "0.5", "1859.5", "3599.0"]
    assert rows[5][-2:] == ["", ""]  # alice took nobody from the queue: empty, not zero


def test_the_metrics_are_for_admins(client, shop):
    for url in ("/api/v1/stats/daily", "/api/v1/stats/daily.csv"):
        resp = client.get(url, headers=login(client, "bob"))
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"


def test_a_bad_range_is_a_400_that_says_why(client, shop):
    alice = login(client)
    for name, query in BAD_RANGES:
        for url in ("/api/v1/stats/daily", "/api/v1/stats/daily.csv"):
            resp = client.get(url, headers=alice, query_string=query)
            error = resp.get_json()["error"]
            assert (resp.status_code, error["code"]) == (400, "bad_request"), name
            assert error["message"] and "Traceback" not in error["message"], name
    assert client.get("/api/v1/stats/daily?from=2024-01-01&to=2024-04-01", headers=alice).status_code == 200


def test_a_served_shopper_shows_today_through_the_real_lifecycle(desk):  # noqa: F811
    """A shopper queued, routed to bob, transferred to carol, ended and rated 5: today's rows."""
    desk.load(agents=[agent("alice", "admin"), agent("bob"), agent("carol")])
    cid = desk.served("bob", "o-metrics", "我要退货")
    desk.reply("bob", cid, "好的")
    desk.online("carol")
    desk.write("o-metrics", "怎么寄回")
    desk.post("bob", cid, "transfer", agent="carol")
    desk.reply("carol", cid, "寄到这个地址")
    desk.post("carol", cid, "end")
    desk.write("o-metrics", "5")
    body = desk.client.get("/api/v1/stats/daily", headers=desk.h("alice")).get_json()
    assert len(body["days"]) == 7 and body["days"][-1] == datetime.now(SHANGHAI).date().isoformat()

    def total(rows, key):
        return sum(row[key] for row in rows)
    shop, bob, carol = body["shop"], body["agents"]["bob"], body["agents"]["carol"]
    assert [total(rows, "conversations") for rows in (shop, bob, carol)] == [1, 1, 1]
    assert [total(rows, "answered") for rows in (shop, bob, carol)] == [2, 1, 1]
    assert [total(rows, "ratings") for rows in (shop, bob, carol)] == [1, 0, 1]  # carol ended it
    [today] = [row for row in shop if row["conversations"]]
    assert (today["satisfaction"], today["response_rate_3min"]) == (1.0, 1.0)
    assert 0 <= today["queue_wait_median"] < 60 and 0 <= today["first_response_p90"] < 60
    assert [row["queue_wait_median"] for row in carol if row["conversations"]] == [None]  # a transfer: no queue
    assert total(body["agents"]["alice"], "conversations") == 0
