"""Every bad input is a 4xx, never a 500: each kind of wrong value to every /api/v1 route (read
from the url_map: a new route without cases fails) and to the OA webhook, on SQLite and
PostgreSQL, and nothing stored. Each case names its status: none passes refused for another
reason (a missing token, an unknown id)."""
from __future__ import annotations

import io
import re
import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from adapters.wechat.push import event_xml, push_xml, text_xml
from adapters.wechat.signature import url_signature
from bridge.infra import db
from bridge.models import Agent, Base, Conversation, Message
from tests.bad_input_inbox import INBOX_CASES, INBOX_SEARCH, inbox_world
from tests.bad_input_kit import (
    ARABIC,
    BIGINT,
    FULLWIDTH,
    HUGE_NUMBER,
    TOKENS,
    Case,
    id_cases,
    json_cases,
    page_cases,
    spelled,
)
from tests.bad_input_shopdata import AGENT_TOKEN, SHOP_DATA_CASES, shop_data_world
from tests.conftest import make_app
from tests.factories import login, post_acme
from tests.test_delivery_images import PNG
from tests.test_metrics_daily import BAD_RANGES

MESSAGE = '{"type": "text", "text": "ok"}'
CONVERSATION = ["conversation_id"]
CASES: dict[tuple[str, str], list[Case]] = {
    ("/api/v1/auth/login", "POST"): [
        *json_cases('{"shop": "acme", "username": "alice", "password": "alice-password"}'),
        *[Case(f"{key} as {kind}", 400, f'{{"shop": "acme", "username": "alice", "password": "x", "{key}": {value}}}')
          for key in ("shop", "username", "password")
          for kind, value in (("number", "123"), ("object", "{}"), ("list", '["alice"]'), ("null", "null"))],
        Case("username over its column", 401, '{"shop": "acme", "username": "' + "a" * 65 + '", "password": "x"}'),
        Case("shop over its column", 401, '{"shop": "' + "s" * 65 + '", "username": "alice", "password": "x"}'),
    ],
    ("/api/v1/auth/logout", "POST"): TOKENS,
    ("/api/v1/me", "GET"): TOKENS,
    ("/api/v1/me", "PATCH"): [
        *TOKENS, *json_cases('{"status": "online"}'),
        *[Case(f"status as {v}", 422, f'{{"status": {v}}}') for v in ('["online"]', '{"online": 1}', "1", "true", '"²"')],
        *[Case(f"max_concurrent as {v[:12]}", 422, f'{{"max_concurrent": {v}}}')
          for v in ('"10"', "10.5", "true", "1" + "0" * 400, "1e400", '"５"', "0", "51", "[10]")],
        *[Case(f"max_concurrent as {v}, which is no JSON", 400, f'{{"max_concurrent": {v}}}')
          for v in ("NaN", "-Infinity")],
        Case("force as a string", 422, '{"force": "yes"}'), Case("an unknown field", 422, '{"mood": "ok"}'),
    ],
    ("/api/v1/agents", "GET"): TOKENS,
    ("/api/v1/groups", "GET"): TOKENS,
    ("/api/v1/quick-phrases", "GET"): TOKENS,
    ("/api/v1/events", "GET"): TOKENS,
    ("/api/v1/stats", "GET"): [
        *TOKENS, *[Case(f"since={v[:16]!r}", 400, query={"since": v}) for v in (
            "²⁰²⁴-01-01", "２０２４-01-01", "yesterday", "2024-13-01", "9999-12-31T23:59:59-23:59",
            "0001-01-01T00:00:00+14:00", "x" * 10_000, "2024-01-01\x00")],
    ],
    **{(route, "GET"): [*TOKENS, *[Case(name, 400, query=query) for name, query in BAD_RANGES]]
       for route in ("/api/v1/stats/daily", "/api/v1/stats/daily.csv")},
    ("/api/v1/conversations", "GET"): [
        *TOKENS, *page_cases(),
        *[Case(f"state={v[:12]!r}", 400, query={"state": v}) for v in ("²", "active\x00", "a" * 10_000, "ACTIVE")],
        *INBOX_SEARCH,
    ],
    ("/api/v1/conversations/<conversation_id>", "GET"): [*TOKENS, *id_cases(*CONVERSATION)],
    ("/api/v1/conversations/<conversation_id>/messages", "GET"): [*TOKENS, *id_cases(*CONVERSATION), *page_cases()],
    ("/api/v1/conversations/<conversation_id>/messages", "POST"): [
        *TOKENS, *id_cases(*CONVERSATION), *json_cases(MESSAGE),
        Case("NUL in the text", 400, '{"type": "text", "text": "a\\u0000b"}'),
        Case("lone surrogate in the text", 400, '{"type": "text", "text": "\\udfff"}'),
        *[Case(f"text as {v[:10]}", 422, f'{{"type": "text", "text": {v}}}')
          for v in ("123", '["hi"]', '{"t": "hi"}', "null", "true", '"   "', '"' + "长" * 2001 + '"')],
        *[Case(f"type as {v}", 422, f'{{"type": {v}, "text": "hi"}}') for v in ('["text"]', "{}", "1", '"TEXT"')],
        Case("multipart without the image", 422, b'--B\r\nContent-Disposition: form-data; name="x"\r\n\r\n1\r\n--B--\r\n',
             content_type="multipart/form-data; boundary=B"),
        Case("multipart of no image", 400, b"--B\r\nContent-Disposition: form-data; name=\"image\"; "
             b"filename=\"a\x00.png\"\r\nContent-Type: image/png\r\n\r\nnot a png\r\n--B--\r\n",
             content_type="multipart/form-data; boundary=B"),
    ],
    ("/api/v1/conversations/<conversation_id>/messages/<message_id>/media", "GET"): [
        *TOKENS, *id_cases("conversation_id", "message_id")],
    ("/api/v1/conversations/<conversation_id>/messages/<message_id>/retry", "POST"): [
        *TOKENS, *id_cases("conversation_id", "message_id")],
    ("/api/v1/conversations/<conversation_id>/accept", "POST"): [*TOKENS, *id_cases(*CONVERSATION)],
    ("/api/v1/conversations/<conversation_id>/end", "POST"): [*TOKENS, *id_cases(*CONVERSATION)],
    ("/api/v1/conversations/<conversation_id>/rating-invite", "POST"): [*TOKENS, *id_cases(*CONVERSATION)],
    ("/api/v1/conversations/<conversation_id>/transfer", "POST"): [
        *TOKENS, *id_cases(*CONVERSATION), *json_cases('{"agent": "bob"}'),
        *[Case(f"{key} as {v}", 422, f'{{"{key}": {v}}}') for key in ("agent", "group")
          for v in ("123", "{}", "[]", '["bob"]', "null", "true", '""', '"' + "b" * 65 + '"')],
        Case("agent and group", 422, '{"agent": "bob", "group": "presales"}'),
        Case("NUL in the username", 400, '{"agent": "bob\\u0000"}'),
    ],
    **INBOX_CASES,
    **SHOP_DATA_CASES,
}


def test_every_api_route_has_its_cases(tmp_path):
    """Routes as CASES names them: without converters (<id:conversation_id> → <conversation_id>)."""
    app = make_app(f"sqlite:///{tmp_path / 'routes.sqlite3'}", None)
    routes = {(re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"<\1>", rule.rule), method) for rule in app.url_map.iter_rules()
              if rule.rule.startswith("/api/v1/") for method in rule.methods - {"HEAD", "OPTIONS"}}
    db.dispose(app)
    assert routes == set(CASES)


@pytest.fixture
def world(app, client, shop) -> dict[str, str]:
    """alice serves one shopper and has replied once: real ids for every route to name."""
    post_acme(client, text_xml("o-bad-input", "在吗"))
    headers = login(client)
    assert client.patch("/api/v1/me", headers=headers, json={"status": "online"}).status_code == 200
    [conversation] = client.get("/api/v1/conversations", headers=headers).get_json()["items"]
    reply = client.post(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers,
                        json={"type": "text", "text": "在的"})
    assert reply.status_code == 201
    return {"conversation_id": str(conversation["id"]), "message_id": str(reply.get_json()["id"]),
            "Authorization": headers["Authorization"], **inbox_world(client, headers, conversation),
            **shop_data_world(app)}


def stored(app) -> dict:
    """Every table's row count, and the rows a wrong request could change."""
    with db.new_session(app) as s:
        return {**{t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables},
                "agents": s.execute(select(Agent.id, Agent.status, Agent.max_concurrent).order_by(Agent.id)).all(),
                "conversations": s.execute(select(Conversation.id, Conversation.state, Conversation.agent_id,
                                                  Conversation.group_id, Conversation.ended_at,
                                                  Conversation.rating_invited_at).order_by(Conversation.id)).all(),
                "messages": s.execute(select(Message.id, Message.text, Message.delivery, Message.attempts)
                                      .order_by(Message.id)).all()}


def send(client, world: dict[str, str], route: str, method: str, case: Case):
    path = re.sub(r"<([^>]+)>", lambda m: case.path.get(m[1], str)(
        int(world[m[1]]) if world[m[1]].isdigit() else world[m[1]]), route)
    # The shop-data API takes the shop's key; every other route the agent's token.
    good = world["shop_key"] if route.startswith("/api/v1/shop-data/") else world["Authorization"]
    token = world["Authorization"] if case.token == AGENT_TOKEN else case.token
    headers = {"Authorization": token if token is not None else good}
    return client.open(path, method=method, headers=headers, query_string=case.query,
                       data=case.body, content_type=case.content_type if case.body is not None else None)


def error_shape(resp) -> bool:
    error = (resp.get_json(silent=True) or {}).get("error")
    return isinstance(error, dict) and {type(error.get(k)) for k in ("code", "message")} == {str}


@pytest.mark.parametrize("route,method", sorted(CASES), ids=lambda v: v)
def test_each_wrong_value_is_a_4xx_and_stores_nothing(app, client, world, route, method):
    wrong = []
    for case in CASES[(route, method)]:
        before = stored(app)
        try:
            resp = send(client, world, route, method, case)
        except Exception as exc:  # noqa: BLE001 - the app under test raises (TESTING): a 500
            wrong.append(f"{case.name}: 500, {type(exc).__name__}: {str(exc)[:120]}")
            continue
        if resp.status_code != case.status or not error_shape(resp):
            wrong.append(f"{case.name}: {resp.status_code} {resp.get_data(as_text=True)[:160]!r}")
        elif stored(app) != before:
            wrong.append(f"{case.name}: {resp.status_code}, but something was stored")
    assert not wrong, "\n".join(wrong)


def test_the_world_answers_right_values(app, client, world):
    """The control: the paths, ids and token the cases spoil are good ones."""
    headers = {"Authorization": world["Authorization"]}
    c, m = world["conversation_id"], world["message_id"]
    assert client.patch("/api/v1/me", headers=login(client, "bob"), json={"status": "online"}).status_code == 200
    assert client.get(f"/api/v1/conversations/{c}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/conversations/{c}/messages?limit=5&before={BIGINT}", headers=headers).status_code == 200
    assert client.post(f"/api/v1/conversations/{c}/transfer", headers=headers, json={"agent": "bob"}).status_code == 200
    retry = client.post(f"/api/v1/conversations/{c}/messages/{m}/retry", headers=headers)
    assert retry.status_code == 409 and "pending" in retry.get_json()["error"]["message"]  # found, not yet failed


def test_an_images_file_name_is_kept_without_what_cannot_be_stored(client, world):
    """A file's name is only shown: a NUL in it is dropped, the image is not refused for it."""
    resp = client.post(f"/api/v1/conversations/{world['conversation_id']}/messages",
                       headers={"Authorization": world["Authorization"]},
                       data={"image": (io.BytesIO(PNG), "size\x00chart.png", "image/png")})
    assert resp.status_code == 201 and resp.get_json()["media"]["filename"] == "sizechart.png"


# -- the OA webhook ---------------------------------------------------------------------------

TOKEN = "acmetoken"  # acme-oa's, plain mode


def signed_args(timestamp: Callable[[int], str]) -> Callable[[], dict[str, str]]:
    """The URL of a push signed over TIMESTAMP(the time now), whatever it holds."""
    def args() -> dict[str, str]:
        ts = timestamp(int(time.time()))
        return {"signature": url_signature(TOKEN, ts, "7"), "timestamp": ts, "nonce": "7"}
    return args


def created(value: str) -> str:
    return text_xml("o-bad", "hi", msg_id=42, created=1).replace("<CreateTime>1<", f"<CreateTime>{value}<")


SIGNED_NOW = signed_args(str)
PUSHES: list[tuple[str, int, Callable[[], dict[str, str]], str | bytes]] = [
    # (what is wrong, status, its URL args, body)
    *[(f"URL timestamp {name}", 403, signed_args(stamp), text_xml("o-bad", "hi")) for name, stamp in (
        ("²", lambda _: "²"), ("of 400 digits", lambda _: "9" * 400), ("of 5,000 digits", lambda _: HUGE_NUMBER),
        ("negative", lambda now: f"-{now}"), ("with a fraction", lambda now: f"{now}.0"),
        ("with a space", lambda now: f" {now}"), ("of now in full-width digits", lambda now: spelled(now, FULLWIDTH)),
        ("of now in Arabic-Indic digits", lambda now: spelled(now, ARABIC)))],
    *[(f"CreateTime {v[:12]!r}", 400, SIGNED_NOW, created(v))
      for v in ("²", "١٧٠٠٠٠٠٠٠٠", "9" * 400, HUGE_NUMBER, "-1", "1.5", "", "17e8")],
    ("openid over its column", 400, SIGNED_NOW, text_xml("o" * 129, "hi")),
    ("openid longer than WeChat's", 400, SIGNED_NOW, text_xml("o" * 65, "hi")),
    ("MsgId over its column", 400, SIGNED_NOW, text_xml("o-bad", "hi", msg_id=int("9" * 129))),
    ("MsgId longer than WeChat's", 400, SIGNED_NOW, text_xml("o-bad", "hi", msg_id=int("9" * 65))),
    ("event name over its column", 400, SIGNED_NOW, event_xml("o-bad", "E" * 100)),
    ("QR scene over its column", 400, SIGNED_NOW, event_xml("o-bad", "subscribe", "qrscene_" + "s" * 129)),
    ("SCAN scene over its column", 400, SIGNED_NOW, event_xml("o-bad", "SCAN", "s" * 129)),
    ("menu key over its column", 400, SIGNED_NOW, event_xml("o-bad", "CLICK", "k" * 129)),
    ("NUL in Content", 400, SIGNED_NOW, text_xml("o-bad", "a\x00b").encode()),
    ("NUL as a reference", 400, SIGNED_NOW, push_xml("o-bad", "<MsgType>text</MsgType><Content>a&#0;b</Content>")),
    ("lone surrogate in Content", 400, SIGNED_NOW,
     push_xml("o-bad", "<MsgType>text</MsgType><Content>@</Content>").encode().replace(b"@", b"\xed\xa0\x80")),
    ("surrogate as a reference", 400, SIGNED_NOW, push_xml("o-bad", "<MsgType>text</MsgType><Content>&#xD800;</Content>")),
    ("NUL in the openid", 400, SIGNED_NOW, text_xml("o-\x00", "hi").encode()),
    ("control character in a field", 400, SIGNED_NOW, push_xml("o-bad", "<MsgType>text</MsgType><X>\x01</X>")),
]


@pytest.mark.parametrize("what,status,args,body", PUSHES, ids=[p[0] for p in PUSHES])
def test_each_wrong_push_is_a_4xx_and_stores_nothing(app, client, shop, what, status, args, body):
    before = stored(app)
    resp = client.post("/hooks/wechat-oa/acme-oa", query_string=args(),
                       data=body.encode() if isinstance(body, str) else body, content_type="text/xml")
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.content_type.startswith("text/plain") and resp.get_data(as_text=True)
    assert stored(app) == before


def test_a_push_at_the_limits_is_stored(app, client, shop):
    """The control: WeChat's longest values still go in."""
    assert post_acme(client, text_xml("o" * 64, "长" * 2000, msg_id=int("9" * 20))).status_code == 200
    assert post_acme(client, event_xml("o" * 64, "CLICK", "k" * 128)).status_code == 200
    assert post_acme(client, event_xml("o" * 64, "subscribe", "qrscene_" + "s" * 64)).status_code == 200
    with db.new_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.text == "长" * 2000)) == 1
