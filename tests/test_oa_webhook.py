"""The OA webhook over HTTP: what is stored, what is answered, and what is refused unchanged."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.pool import NullPool
from wechatpy.crypto import WeChatCrypto

from bridge.infra import db
from bridge.ingest.store import Store
from bridge.models import Conversation, Customer, InboundReceipt, Message
from tests.conftest import make_app
from tests.factories import OFFICIAL, load_shop, post_acme, push_xml, shop_doc, signed, text_xml


def counts(app) -> dict[str, int]:
    with db.new_session(app) as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                for m in (Customer, Conversation, Message, InboundReceipt)}


def rows(app, model, *where):
    with db.new_session(app) as s:
        return s.scalars(select(model).where(*where).order_by(model.id)).all()


def decrypt_reply(body: str) -> str:
    fields = {t: body.split(f"<{t}>")[1].split(f"</{t}>")[0].replace("<![CDATA[", "").replace("]]>", "")
              for t in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")}
    crypto = WeChatCrypto(OFFICIAL["token"], OFFICIAL["encoding_aes_key"], OFFICIAL["app_id"])
    return crypto.decrypt_message({"Encrypt": fields["Encrypt"]}, fields["MsgSignature"],
                                  fields["TimeStamp"], fields["Nonce"])


def test_get_verification_echoes(client, shop):
    args, _ = signed("acmetoken", "")
    resp = client.get("/hooks/wechat-oa/acme-oa", query_string={**args, "echostr": "4375120948345356249"})
    assert resp.status_code == 200 and resp.data == b"4375120948345356249"
    bad = client.get("/hooks/wechat-oa/acme-oa", query_string={**args, "signature": "0" * 40, "echostr": "x"})
    assert bad.status_code == 403 and b"x" not in bad.data


def test_unknown_channel_is_not_found(client, shop):
    args, body = signed("acmetoken", text_xml("o1", "hi"))
    assert client.post("/hooks/wechat-oa/nope", query_string=args, data=body).status_code == 404
    assert client.post("/hooks/wechat-mp/acme-oa", query_string=args, data=body).status_code == 404


@pytest.mark.parametrize("mode", ["plain", "compat", "safe"])
def test_keyword_answers_as_passive_reply_and_is_stored_as_bot(app, client, shop, mode):
    resp = post_acme(client, text_xml("o-kw", "请问什么时候发货？", msg_id=555), mode)
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    xml = body if mode == "plain" else decrypt_reply(body)
    assert "<Content><![CDATA[48小时内发货]]></Content>" in xml
    assert "<ToUserName><![CDATA[o-kw]]></ToUserName>" in xml
    if mode != "plain":
        assert "48小时内发货" not in body  # the wire carries only the encrypted envelope
    inbound, bot = rows(app, Message)
    assert (inbound.direction, inbound.sender, inbound.text, inbound.external_id) == ("in", "customer", "请问什么时候发货？", "555")
    assert (bot.direction, bot.sender, bot.text, bot.delivery) == ("out", "bot", "48小时内发货", None)
    [conversation] = rows(app, Conversation)
    assert conversation.state == "bot"


def test_unanswered_message_is_stored_acknowledged_and_queued(app, client, shop):
    resp = post_acme(client, text_xml("o-q", "我要问个问题"))
    assert resp.data == b"success"
    [conversation] = rows(app, Conversation)
    assert conversation.state == "queued" and conversation.queued_at is not None
    [message] = rows(app, Message)
    assert message.conversation_id == conversation.id and message.text == "我要问个问题"


def test_one_customer_and_one_open_conversation_per_channel_and_openid(app, client, shop):
    post_acme(client, text_xml("o-same", "hi"))  # exact rule → bot conversation
    post_acme(client, text_xml("o-same", "第二条"))  # unanswered → the same conversation, queued
    post_acme(client, text_xml("o-same", "第三条"), "safe")  # another channel → another customer
    customers = rows(app, Customer)
    assert len(customers) == 2
    conversations = rows(app, Conversation)
    assert len(conversations) == 2
    assert conversations[0].state == "queued"
    assert [m.conversation_id for m in rows(app, Message)] == [conversations[0].id] * 3 + [conversations[1].id]


def test_retry_with_same_msgid_is_stored_once_and_answered_the_same(app, client, shop):
    body = text_xml("o-retry", "shipping?", msg_id=777)
    first = post_acme(client, body)
    second = post_acme(client, body)
    assert first.status_code == second.status_code == 200
    content = "<Content><![CDATA[48小时内发货]]></Content>"
    assert content in first.get_data(as_text=True) and content in second.get_data(as_text=True)
    assert counts(app) == {"customers": 1, "conversations": 1, "messages": 2, "inbound_receipts": 1}
    quiet = text_xml("o-retry", "no rule matches this", msg_id=778)
    assert post_acme(client, quiet).data == post_acme(client, quiet).data == b"success"
    assert counts(app)["messages"] == 3


def test_events_update_the_customer_and_open_no_conversation(app, client, shop):
    created = int(time.time())
    subscribe = push_xml("o-ev", "<MsgType>event</MsgType><Event>subscribe</Event>"
                                 "<EventKey>qrscene_vip</EventKey><Ticket>T</Ticket>", created)
    assert post_acme(client, subscribe).data == b"success"
    assert post_acme(client, subscribe).data == b"success"  # WeChat's retry
    click = push_xml("o-ev", "<MsgType>event</MsgType><Event>CLICK</Event><EventKey>AFTERSALES</EventKey>", created)
    post_acme(client, click)  # same second, another event: not a duplicate
    [customer] = rows(app, Customer)
    assert (customer.subscribed, customer.entry_scene, customer.entry_menu) == (True, "vip", "AFTERSALES")
    assert customer.window_quota == 3  # a follow opens a short window (3 messages, 1 minute)
    receipts = rows(app, InboundReceipt)
    assert [r.kind for r in receipts] == ["event:subscribe", "event:click"]
    assert receipts[0].payload["key"] == "vip"
    assert counts(app)["conversations"] == 0
    post_acme(client, push_xml("o-ev", "<MsgType>event</MsgType><Event>unsubscribe</Event>", created + 1))
    assert rows(app, Customer)[0].subscribed is False


def test_shopper_message_opens_the_48h_window_with_five_messages(app, client, shop):
    post_acme(client, text_xml("o-win", "在吗"))
    [customer] = rows(app, Customer)
    assert customer.window_quota == 5
    assert 47 * 3600 < (customer.window_expires_at - customer.last_inbound_at).total_seconds() <= 48 * 3600


def test_unknown_types_are_kept_never_dropped(app, client, shop):
    body = push_xml("o-unk", "<MsgType>hologram</MsgType><Beam>x</Beam><MsgId>9001</MsgId>")
    assert post_acme(client, body).data == b"success"
    [message] = rows(app, Message)
    assert message.type == "unknown" and message.raw["MsgType"] == "hologram" and message.raw["Beam"] == "x"
    body = push_xml("o-unk", "<MsgType>event</MsgType><Event>future_event</Event>")
    assert post_acme(client, body).data == b"success"
    assert [r.kind for r in rows(app, InboundReceipt)] == ["unknown", "event:future_event"]


# -- refused requests change nothing ----------------------------------------------------------------

def _tamper(args, body, **changes):
    return {**args, **changes}, body


REFUSALS = {
    "bad signature": (lambda a, b: ({**a, "signature": "0" * 40}, b), 403),
    "stale timestamp": (lambda a, b: ({**a, "timestamp": str(int(a["timestamp"]) - 3600)}, b), 403),
    "no signature": (lambda a, b: ({k: v for k, v in a.items() if k != "signature"}, b), 403),
    "doctype": (lambda a, b: (a, b'<!DOCTYPE x [<!ENTITY e "x">]>' + b), 400),
    "not xml": (lambda a, b: (a, b"garbage"), 400),
    "oversized": (lambda a, b: (a, b.replace(b"</xml>", b"<Pad>" + b"x" * 70_000 + b"</Pad></xml>")), 413),
}


@pytest.mark.parametrize("name", REFUSALS)
def test_refused_plain_requests_store_nothing(app, client, shop, name):
    tamper, status = REFUSALS[name]
    args, body = signed("acmetoken", text_xml("o-bad", "发货"))
    args, body = tamper(args, body)
    resp = client.post("/hooks/wechat-oa/acme-oa", query_string=args, data=body, content_type="text/xml")
    assert resp.status_code == status
    assert b"48" not in resp.data
    assert counts(app) == {"customers": 0, "conversations": 0, "messages": 0, "inbound_receipts": 0}


@pytest.mark.parametrize("change, status", [
    ({"msg_signature": "f" * 40}, 403),
    ({"msg_signature": None}, 403),
])
def test_refused_safe_requests_store_nothing(app, client, shop, change, status):
    args, body = signed(OFFICIAL["token"], text_xml("o-bad", "发货"), "safe",
                        OFFICIAL["encoding_aes_key"], OFFICIAL["app_id"])
    args = {k: v for k, v in {**args, **change}.items() if v is not None}
    resp = client.post("/hooks/wechat-oa/acme-safe", query_string=args, data=body, content_type="text/xml")
    assert resp.status_code == status
    assert counts(app)["inbound_receipts"] == 0


def test_wrong_app_id_is_refused(app, client, shop):
    args, body = signed(OFFICIAL["token"], text_xml("o-bad", "发货"), "safe",
                        OFFICIAL["encoding_aes_key"], "wx9999999999999999")
    resp = client.post("/hooks/wechat-oa/acme-safe", query_string=args, data=body)
    assert resp.status_code == 403
    assert counts(app)["inbound_receipts"] == 0


def test_no_success_before_the_commit(app, shop, monkeypatch):
    """If storing fails, WeChat gets an error (and retries), never `success`; what the push
    wrote before the failure is rolled back."""
    real_run = Store._run

    def failing_receipt(self, sql, params):
        if "INSERT INTO inbound_receipts" in sql:  # the last write (on PostgreSQL, the only one)
            raise RuntimeError("database went away")
        return real_run(self, sql, params)

    app.config["PROPAGATE_EXCEPTIONS"] = False
    monkeypatch.setattr(Store, "_run", failing_receipt)
    resp = post_acme(app.test_client(), text_xml("o-fail", "我要问个问题"))
    assert resp.status_code == 500 and resp.data != b"success"
    monkeypatch.undo()
    assert counts(app) == {"customers": 0, "conversations": 0, "messages": 0, "inbound_receipts": 0}


def test_simulate_command_prints_the_decoded_reply(app, shop):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["simulate", "wechat-oa", "acme-safe", "o-sim", "发货吗"])
    assert result.exit_code == 0, result.output
    assert "HTTP 200" in result.output and "<Content><![CDATA[48小时内发货]]></Content>" in result.output
    result = runner.invoke(args=["simulate", "wechat-oa", "acme-oa", "o-sim", "随便问问"])
    assert result.exit_code == 0 and "success" in result.output
    result = runner.invoke(args=["simulate", "wechat-oa", "nope", "o-sim", "x"])
    assert result.exit_code != 0 and "no Official Account channel 'nope'" in result.output


def test_a_retry_changes_nothing_the_first_copy_did_not(app, client, shop):
    """The dedupe point comes after the shopper and conversation upserts: a duplicate must
    roll them back, not refresh the window or the conversation's clock."""
    first = text_xml("o-again", "我要问个问题", msg_id=4242)
    post_acme(client, first)
    [customer] = rows(app, Customer)
    [conversation] = rows(app, Conversation)
    time.sleep(0.01)
    assert post_acme(client, first).data == b"success"
    [customer_after] = rows(app, Customer)
    [conversation_after] = rows(app, Conversation)
    assert (customer_after.window_expires_at, customer_after.last_inbound_at) == \
        (customer.window_expires_at, customer.last_inbound_at)
    assert (conversation_after.last_customer_message_at, conversation_after.queued_at,
            conversation_after.awaiting_reply_since) == (conversation.last_customer_message_at,
                                                         conversation.queued_at,
                                                         conversation.awaiting_reply_since)
    assert counts(app) == {"customers": 1, "conversations": 1, "messages": 1, "inbound_receipts": 1}


def test_a_message_to_an_ended_conversation_opens_a_new_one(app, client, shop):
    post_acme(client, text_xml("o-back", "我要问个问题"))
    with db.new_session(app) as s:
        conversation = s.scalars(select(Conversation)).one()
        conversation.state, conversation.end_reason = "ended", "agent"
        s.commit()
    assert post_acme(client, text_xml("o-back", "hi")).status_code == 200  # a rule answers
    old, new = rows(app, Conversation)
    assert (old.state, new.state) == ("ended", "bot")
    assert [m.conversation_id for m in rows(app, Message)] == [old.id, new.id, new.id]


def test_rules_stay_quiet_while_an_agent_serves_the_shopper(app, client, shop):
    post_acme(client, text_xml("o-served", "我要问个问题"))
    with db.new_session(app) as s:
        conversation = s.scalars(select(Conversation)).one()
        conversation.state = "active"
        conversation.awaiting_reply_since = None
        s.commit()
    assert post_acme(client, text_xml("o-served", "shipping?")).data == b"success"
    [conversation] = rows(app, Conversation)
    assert conversation.state == "active" and conversation.awaiting_reply_since is not None
    assert [m.sender for m in rows(app, Message)] == ["customer", "customer"]


def test_redis_gone_after_the_commit_still_answers_and_keeps_the_message(app, client, shop):
    """Events and the dispatch claim are after-commit effects: losing Redis loses a live
    update (the sweep routes the queue), never the shopper's message or WeChat's answer."""
    import socket

    from bridge.events.publish import Publisher
    from bridge.infra.redisconn import connect

    with socket.socket() as s:  # a port nothing listens on: every connection is refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = connect(f"redis://127.0.0.1:{port}/0")  # the app's own client settings
    app.extensions["redis"], app.extensions["events_publisher"] = gone, Publisher(gone)
    assert post_acme(client, text_xml("o-noredis", "我要问个问题")).data == b"success"
    assert "48小时内发货" in post_acme(client, text_xml("o-noredis2", "shipping?")).get_data(as_text=True)
    assert counts(app)["messages"] == 3
    assert [c.state for c in rows(app, Conversation)] == ["queued", "bot"]


def test_pushes_go_on_after_the_database_drops_its_connections(pg_url, redis_url, fake_wechat, caplog):
    """PostgreSQL (SQLite has no server to lose). The webhooks' pool does not ping before
    each checkout (a round trip per push): a connection found dead, as after a restart, is
    replaced and the push taken again, so WeChat sees no error and nothing is stored twice."""
    app = make_app(pg_url, redis_url, fake_wechat.url)
    load_shop(app, shop_doc())
    client = app.test_client()
    engine = app.extensions["hook_engine"]
    assert not engine.pool._pre_ping
    assert post_acme(client, text_xml("o-restart", "我要问个问题", msg_id=7001)).data == b"success"
    admin = create_engine(engine.url, poolclass=NullPool)
    with admin.connect() as conn:  # every other connection to this database, the pool's among them
        ended = conn.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid != pg_backend_pid()").scalar()
    admin.dispose()
    assert ended >= 1

    resp = post_acme(client, text_xml("o-restart", "还有一个问题", msg_id=7002))
    assert resp.status_code == 200 and resp.data == b"success"
    again = post_acme(client, text_xml("o-restart", "还有一个问题", msg_id=7002))  # WeChat's retry
    assert again.status_code == 200 and again.data == b"success"
    assert counts(app) == {"customers": 1, "conversations": 1, "messages": 2, "inbound_receipts": 2}
    assert "database connection lost" in caplog.text  # the dead connection was met, and replaced
    db.dispose(app)


def test_a_signed_url_carries_one_body_only(app, client, shop):
    """Within the timestamp window a captured signature is refused with any other body;
    WeChat's retry of the same body is answered the same and stored once."""
    args, body = signed("acmetoken", text_xml("o-first", "你好", msg_id=9001))
    post = lambda data: client.post("/hooks/wechat-oa/acme-oa", query_string=args, data=data,  # noqa: E731
                                    content_type="text/xml")
    assert post(body).status_code == 200
    assert post(body).status_code == 200  # WeChat's retry
    forged = text_xml("o-other", "转人工", msg_id=9002).encode()
    assert post(forged).status_code == 403
    assert counts(app)["inbound_receipts"] == 1
    with db.new_session(app) as s:
        assert s.scalars(select(Customer.external_id)).all() == ["o-first"]


def test_a_safe_channel_takes_only_encrypted_pushes(app, client, shop):
    args, body = signed(OFFICIAL["token"], text_xml("o-plain", "发货"), "plain")
    resp = client.post("/hooks/wechat-oa/acme-safe", query_string=args, data=body, content_type="text/xml")
    assert resp.status_code == 400 and counts(app)["inbound_receipts"] == 0


def test_in_compat_mode_the_encrypted_content_is_what_counts(app, client):
    doc = shop_doc()
    doc["shops"][0]["channels"][1]["mode"] = "compat"
    load_shop(app, doc)
    args, body = signed(OFFICIAL["token"], text_xml("o-compat", "你好"), "compat",
                        OFFICIAL["encoding_aes_key"], OFFICIAL["app_id"])
    tampered = body.replace("<![CDATA[o-compat]]>".encode(), b"<![CDATA[o-victim]]>", 1)
    tampered = tampered.replace("<![CDATA[你好]]>".encode(), "<![CDATA[退款]]>".encode(), 1)
    resp = client.post("/hooks/wechat-oa/acme-safe", query_string=args, data=tampered, content_type="text/xml")
    assert resp.status_code == 200
    with db.new_session(app) as s:
        assert s.scalars(select(Customer.external_id)).all() == ["o-compat"]
        assert s.scalars(select(Message.text).where(Message.direction == "in")).all() == ["你好"]
    plain_args, plain = signed(OFFICIAL["token"], text_xml("o-plain", "发货"), "plain")
    assert client.post("/hooks/wechat-oa/acme-safe", query_string=plain_args, data=plain,
                       content_type="text/xml").status_code == 200  # compat still takes plaintext
