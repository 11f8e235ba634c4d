"""The Official Account's webhook guarantees (tests/test_oa_webhook.py), proven the same way for
the Mini Program: no `success` before the commit; Redis gone after the commit still answers
and keeps the push; a signed URL carries one body only; and in compatible mode only what the
envelope decrypts to counts, whatever the JSON or XML around it says. SQLite and PostgreSQL."""
from __future__ import annotations

import copy
import json
import socket

import pytest

from adapters.wechat.mp_push import enter_push, signed, text_push
from bridge.ingest.store import Store
from bridge.models import Conversation, Customer, Message
from tests.factories import BASE_SHOP, load_shop, shop_doc
from tests.test_mp_webhook import CHANNELS, MP_TOKEN, SAFE_KEY, push
from tests.test_oa_webhook import counts, rows

COMPAT_APP = "wx00000000000000e5"
COMPAT = {"kind": "wechat_mp", "key": "acme-mp-compat", "app_id": COMPAT_APP, "app_secret": "secret-e5",
          "token": MP_TOKEN, "encoding_aes_key": SAFE_KEY, "mode": "compat"}


@pytest.fixture
def mp(app):
    channels = copy.deepcopy(BASE_SHOP["channels"]) + copy.deepcopy(CHANNELS) + [dict(COMPAT)]
    return load_shop(app, shop_doc(channels=channels))


@pytest.mark.parametrize("make", [lambda: text_push("o-fail", "我要问个问题"), lambda: enter_push("o-fail", "vip")],
                         ids=["message", "event"])
def test_no_success_before_the_commit(app, mp, monkeypatch, make):
    """Storing fails: WeChat gets an error (and tries again), never `success`; nothing stays."""
    real_run = Store._run

    def failing_receipt(self, sql, params):
        if "INSERT INTO inbound_receipts" in sql:  # the last write of a message's and an event's
            raise RuntimeError("database went away")
        return real_run(self, sql, params)

    app.config["PROPAGATE_EXCEPTIONS"] = False
    monkeypatch.setattr(Store, "_run", failing_receipt)
    resp = push(app.test_client(), make())
    assert resp.status_code == 500 and resp.data != b"success"
    monkeypatch.undo()
    assert counts(app) == {"customers": 0, "conversations": 0, "messages": 0, "inbound_receipts": 0}


def test_redis_gone_after_the_commit_still_answers_and_keeps_the_push(app, client, mp):
    from bridge.events.publish import Publisher
    from bridge.infra.redisconn import connect

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = connect(f"redis://127.0.0.1:{port}/0")
    app.extensions["redis"], app.extensions["events_publisher"] = gone, Publisher(gone)
    assert push(client, text_push("o-noredis", "我要问个问题")).data == b"success"
    assert push(client, text_push("o-noredis2", "什么时候发货")).data == b"success"
    assert counts(app)["messages"] == 3  # two shoppers' messages and the robot's answer, pending
    assert [c.state for c in rows(app, Conversation)] == ["queued", "bot"]


def test_a_signed_url_carries_one_body_only(app, client, mp):
    args, body = signed(MP_TOKEN, text_push("o-first", "你好"))
    post = lambda data: client.post("/hooks/wechat-mp/acme-mp", query_string=args, data=data,  # noqa: E731
                                    content_type="text/xml")
    assert post(body).data == b"success" and post(body).data == b"success"  # WeChat's retry
    forged = json.dumps(text_push("o-other", "转人工")).encode()
    assert post(forged).status_code == 403
    assert [c.external_id for c in rows(app, Customer)] == ["o-first"] and counts(app)["inbound_receipts"] == 1


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_in_compat_mode_the_encrypted_content_is_what_counts(app, client, mp, fmt):
    args, body = signed(MP_TOKEN, text_push("o-compat", "你好"), fmt, "compat", SAFE_KEY, COMPAT_APP)
    if fmt == "json":
        outer = json.loads(body)
        outer.update(FromUserName="o-victim", Content="退款")
        tampered = json.dumps(outer, ensure_ascii=False).encode()
    else:
        tampered = body.replace(b"o-compat", b"o-victim", 1).replace("你好".encode(), "退款".encode(), 1)
    assert tampered != body
    resp = client.post("/hooks/wechat-mp/acme-mp-compat", query_string=args, data=tampered, content_type="text/xml")
    assert resp.data == b"success"
    assert [c.external_id for c in rows(app, Customer)] == ["o-compat"]
    assert [m.text for m in rows(app, Message, Message.direction == "in")] == ["你好"]
    plain_args, plain = signed(MP_TOKEN, text_push("o-plain", "在吗"), fmt)
    resp = client.post("/hooks/wechat-mp/acme-mp-compat", query_string=plain_args, data=plain, content_type="text/xml")
    assert resp.data == b"success"  # compat still takes plaintext


def raw_push(**fields) -> bytes:
    """A JSON push with these fields, written as given (JSON escapes included)."""
    base = {"ToUserName": '"gh_simulator"', "FromUserName": '"o-bad"', "CreateTime": "1700000000",
            "MsgType": '"text"', "Content": '"hi"', "MsgId": "42"}
    base.update(fields)
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in base.items()) + "}").encode()


BAD_JSON = [  # what is wrong, the body: each a 400 storing nothing, as the OA's (tests/test_bad_input.py)
    ("NUL in Content", raw_push(Content='"a\\u0000b"')),
    ("NUL in the openid", raw_push(FromUserName='"o-\\u0000"')),
    ("lone surrogate in Content", raw_push(Content='"\\ud800"')),
    ("CreateTime with a fraction", raw_push(CreateTime="1.5")),
    ("CreateTime as an exponent", raw_push(CreateTime="17e8")),
    ("CreateTime negative", raw_push(CreateTime="-1")),
    ("CreateTime of 400 digits", raw_push(CreateTime="9" * 400)),
    ("CreateTime true", raw_push(CreateTime="true")),
    ("no CreateTime", raw_push(CreateTime="null")),
    ("openid longer than WeChat's", raw_push(FromUserName=f'"{"o" * 65}"')),
    ("MsgId longer than WeChat's", raw_push(MsgId="9" * 65)),
    ("event name over its column", raw_push(MsgType='"event"', Event=f'"{"E" * 100}"')),
    ("Infinity", raw_push(CreateTime="Infinity")),
]


@pytest.mark.parametrize("body", [b for _, b in BAD_JSON], ids=[w for w, _ in BAD_JSON])
def test_each_wrong_json_push_is_a_400_and_stores_nothing(app, client, mp, body):
    args, _ = signed(MP_TOKEN, {})
    resp = client.post("/hooks/wechat-mp/acme-mp", query_string=args, data=body, content_type="text/xml")
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert counts(app) == {"customers": 0, "conversations": 0, "messages": 0, "inbound_receipts": 0}


def test_a_json_push_at_the_limits_is_stored(app, client, mp):
    """The control: WeChat's longest values, in JSON, still go in."""
    args, _ = signed(MP_TOKEN, {})
    body = raw_push(FromUserName=f'"{"o" * 64}"', Content=f'"{"长" * 2000}"', MsgId="9" * 20)
    resp = client.post("/hooks/wechat-mp/acme-mp", query_string=args, data=body, content_type="text/xml")
    assert resp.data == b"success" and counts(app)["messages"] == 1
