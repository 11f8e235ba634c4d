"""`flask simulate wechat-oa`: every kind of push an Official Account sends, posted to a live
server (gunicorn, real PostgreSQL and Redis) and stored as the bridge understands it; bad
options are usage errors that send nothing; a server that is not there is one line."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from bridge.infra import db
from bridge.models import Conversation, Customer, InboundReceipt, Message
from tests.conftest import _leased_redis, _truncate, make_app
from tests.factories import load_shop, shop_doc
from tests.live import app_env, free_port, gunicorn


@pytest.fixture(scope="module")
def live(pg_database):
    """One server for the module: every test here writes as a shopper of its own."""
    _truncate(pg_database)
    lease = _leased_redis()
    redis_url = next(lease)
    app = make_app(pg_database, redis_url)
    load_shop(app, shop_doc())
    try:
        with gunicorn(app_env(pg_database, redis_url), workers=1) as base:
            yield SimpleNamespace(app=app, base=base)
    finally:
        db.dispose(app)
        lease.close()


def simulate(live, *args: str, channel: str = "acme-safe", openid: str = "o-sim", url: str | None = None):
    return live.app.test_cli_runner().invoke(args=[
        "simulate", "wechat-oa", channel, openid, *args, "--url", url or live.base])


def stored(live, openid: str) -> SimpleNamespace:
    """What the bridge kept of OPENID's pushes: the shopper, their messages, the receipts."""
    with db.new_session(live.app) as s:
        customer = s.scalar(select(Customer).where(Customer.external_id == openid))
        if customer is None:
            return SimpleNamespace(customer=None, messages=[], receipts=[])
        return SimpleNamespace(
            customer=customer,
            messages=s.scalars(select(Message).join(Conversation, Message.conversation_id == Conversation.id)
                               .where(Conversation.customer_id == customer.id, Message.direction == "in")
                               .order_by(Message.id)).all(),
            receipts=s.scalars(select(InboundReceipt).where(InboundReceipt.customer_id == customer.id)
                               .order_by(InboundReceipt.id)).all())


def only_message(live, openid: str) -> Message:
    [message] = stored(live, openid).messages
    return message


def test_text_is_answered_by_a_rule_through_the_encrypted_channel(live):
    result = simulate(live, "发货吗", openid="o-text")
    assert result.exit_code == 0, result.output
    assert "HTTP 200" in result.output and "<Content><![CDATA[48小时内发货]]></Content>" in result.output
    message = only_message(live, "o-text")
    assert (message.type, message.text) == ("text", "发货吗")


def test_text_no_rule_answers_is_acknowledged_and_kept(live):
    result = simulate(live, "在吗？想问问尺码", channel="acme-oa", openid="o-text-plain")
    assert result.exit_code == 0 and result.output.splitlines() == ["HTTP 200", "success"]
    assert only_message(live, "o-text-plain").text == "在吗？想问问尺码"


def test_image(live):
    result = simulate(live, "--kind", "image", "--media-id", "m-photo-1", openid="o-image")
    assert result.exit_code == 0, result.output
    message = only_message(live, "o-image")
    assert message.type == "image" and message.media["media_id"] == "m-photo-1"
    assert message.media["pic_url"].startswith("https://")


def test_voice_with_recognition(live):
    result = simulate(live, "--kind", "voice", "--recognition", "我要退货", openid="o-voice")
    assert result.exit_code == 0, result.output
    message = only_message(live, "o-voice")
    assert (message.type, message.text) == ("voice", "我要退货")
    assert message.media["recognition"] == "我要退货" and message.media["format"] == "amr"


def test_voice_without_recognition(live):
    assert simulate(live, "--kind", "voice", openid="o-voice-raw").exit_code == 0
    message = only_message(live, "o-voice-raw")
    assert message.type == "voice" and message.text is None and message.media["media_id"]


def test_location(live):
    result = simulate(live, "--kind", "location", "--lat", "23.134521", "--lng", "113.358803",
                      "--label", "广州塔", openid="o-location")
    assert result.exit_code == 0, result.output
    message = only_message(live, "o-location")
    assert (message.type, message.text) == ("location", "广州塔")
    assert (message.media["x"], message.media["y"]) == ("23.134521", "113.358803")


def test_link(live):
    result = simulate(live, "--kind", "link", "--title", "这件外套有货吗", "--link-url",
                      "https://shop.example/p/42", "--description", "冬款", openid="o-link")
    assert result.exit_code == 0, result.output
    message = only_message(live, "o-link")
    assert (message.type, message.text) == ("link", "这件外套有货吗")
    assert message.media == {"title": "这件外套有货吗", "description": "冬款", "url": "https://shop.example/p/42"}


@pytest.mark.parametrize("kind, option, value, event, column", [
    ("follow", "--scene", "vip", "subscribe", "entry_scene"),
    ("scan", "--scene", "spring-sale", "scan", "entry_scene"),
    ("click", "--menu-key", "AFTERSALES", "click", "entry_menu"),
])
def test_events_set_the_entry_context(live, kind, option, value, event, column):
    openid = f"o-{kind}"
    result = simulate(live, "--kind", kind, option, value, openid=openid)
    assert result.exit_code == 0, result.output
    kept = stored(live, openid)
    [receipt] = kept.receipts
    assert receipt.kind == f"event:{event}" and receipt.payload["key"] == value
    assert getattr(kept.customer, column) == value
    if kind == "follow":
        assert kept.customer.subscribed is True


def test_follow_without_a_qr_code(live):
    assert simulate(live, "--kind", "follow", openid="o-follow-plain").exit_code == 0
    kept = stored(live, "o-follow-plain")
    assert kept.customer.subscribed is True and kept.customer.entry_scene is None
    assert [r.kind for r in kept.receipts] == ["event:subscribe"]


BAD = [
    ([""], "TEXT must not be empty"),
    (["   "], "TEXT must not be empty"),
    ([], "TEXT is required"),
    (["--kind", "click"], "--menu-key is required for a click push"),
    (["--kind", "scan"], "--scene is required for a scan push"),
    (["--kind", "location", "--lat", "91", "--lng", "0"], "--lat must be between -90 and 90"),
    (["--kind", "location", "--lat", "north", "--lng", "0"], "--lat must be a number"),
    (["--kind", "link", "--title", "x", "--link-url", "ftp://x"], "--link-url must start with http://"),
    (["--kind", "voice", "--recognition", ""], "--recognition must not be empty"),
    (["hello", "--menu-key", "K"], "--menu-key is not part of a text push"),
    (["--kind", "image", "hello"], "TEXT is not part of a image push"),
    (["--kind", "sing"], "'sing' is not one of"),
]


@pytest.mark.parametrize("args, message", BAD, ids=[m for _, m in BAD])
def test_a_bad_option_is_a_usage_error_and_sends_nothing(live, args, message):
    result = simulate(live, *args, openid="o-bad")
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert stored(live, "o-bad").customer is None


def test_a_server_that_is_not_there_is_one_line(live):
    dead = f"http://127.0.0.1:{free_port()}"
    result = simulate(live, "在吗", url=dead)
    assert result.exit_code == 1
    assert result.stderr == f"Error: cannot reach {dead}/hooks/wechat-oa/acme-safe: connection refused\n"
    assert result.stdout == ""


def test_a_url_that_is_not_one_is_a_usage_error(live):
    result = simulate(live, "在吗", url="localhost:8000")
    assert result.exit_code == 2 and "--url 'localhost:8000' must be http:// or https://" in result.stderr
