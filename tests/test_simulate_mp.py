"""`flask simulate wechat-mp`: a Mini Program's pushes signed (and sealed) as WeChat sends them,
JSON by default and XML with --xml, the 客服 tap first with --enter; what came back is printed
(`success`: a Mini Program has no passive reply) and the bridge stores what the shopper did."""
from __future__ import annotations

import copy

import pytest
from sqlalchemy import select

from adapters.wechat.mp_push import MPSimulator
from bridge.channels.contract import ChannelConfig
from bridge.infra import db
from bridge.models import Conversation, Customer, InboundReceipt, Message
from tests.factories import BASE_SHOP, load_shop, shop_doc
from tests.test_mp_webhook import CHANNELS, MP_APP, MP_TOKEN


@pytest.fixture
def cli(app):
    load_shop(app, shop_doc(channels=copy.deepcopy(BASE_SHOP["channels"]) + CHANNELS))
    runner = app.test_cli_runner()
    return lambda *args: runner.invoke(args=["simulate", "wechat-mp", *args])


def stored(app, openid: str):
    with db.new_session(app) as s:
        customer = s.scalar(select(Customer).where(Customer.external_id == openid))
        messages = s.execute(select(Message.type, Message.text)
                             .join(Conversation, Message.conversation_id == Conversation.id)
                             .where(Conversation.customer_id == customer.id, Message.direction == "in")
                             .order_by(Message.id)).all()
        receipts = s.scalars(select(InboundReceipt.kind).where(InboundReceipt.customer_id == customer.id)
                             .order_by(InboundReceipt.id)).all()
        return customer, [tuple(m) for m in messages], receipts


@pytest.mark.parametrize("extra, channel", [((), "acme-mp"), (("--xml",), "acme-mp"),
                                            (("--mode", "safe"), "acme-mp-safe"),
                                            (("--xml", "--mode", "compat"), "acme-mp-safe")])
def test_enter_then_write_in_each_format_and_mode(app, cli, extra, channel):
    result = cli(channel, "o-sim", "这件有M码吗", "--enter", "vip", *extra)
    assert result.exit_code == 0, result.output
    assert result.output == "HTTP 200\nsuccess\nsuccess\n"
    customer, messages, receipts = stored(app, "o-sim")
    assert customer.entry_scene == "vip" and messages == [("text", "这件有M码吗")]
    assert receipts == ["event:user_enter_tempsession", "text"]


def test_a_shared_page_and_an_image(app, cli):
    assert cli("acme-mp", "o-page", "--kind", "page", "--title", "夏季连衣裙",
               "--page-path", "pages/item/item?id=42").exit_code == 0
    assert cli("acme-mp", "o-page", "--kind", "image", "--media-id", "m-1").exit_code == 0
    _, messages, _ = stored(app, "o-page")
    assert messages == [("miniprogrampage", "夏季连衣裙"), ("image", None)]


def test_bad_options_send_nothing(app, cli):
    result = cli("acme-mp", "o-bad", "--kind", "page", "--title", "t")
    assert result.exit_code == 2 and "--page-path is required" in result.output
    result = cli("acme-mp", "o-bad", "--kind", "image", "--scene", "x")
    assert result.exit_code == 2
    result = cli("acme-oa", "o-bad", "hi")
    assert result.exit_code == 1 and "no Mini Program channel 'acme-oa'" in result.output
    with db.new_session(app) as s:
        assert s.scalar(select(Customer).where(Customer.external_id == "o-bad")) is None


@pytest.mark.parametrize("data_format, xml, first", [("json", False, b"{"), ("xml", False, b"<"), ("json", True, b"<")])
def test_pushes_come_in_the_channels_data_format_unless_told_xml(data_format, xml, first):
    """As WeChat posts to a Mini Program configured so (labelled text/xml either way)."""
    settings = {"app_id": MP_APP, "token": MP_TOKEN, "data_format": data_format}
    simulator = MPSimulator(ChannelConfig(id=1, shop_id=1, kind="wechat_mp", key="mp", settings=settings))
    pushes = simulator.pushes("o-fmt", "text", {"text": "hi", "enter": "vip"}, "plain", xml=xml)
    assert [(body[:1], content_type) for _, body, content_type in pushes] == [(first, "text/xml")] * 2


def test_the_help_names_the_channel(app):
    for segment, named in (("wechat-mp", "to a Mini Program channel"), ("wechat-oa", "to an Official Account")):
        result = app.test_cli_runner().invoke(args=["simulate", segment, "--help"])
        assert named in " ".join(result.output.split()), result.output
