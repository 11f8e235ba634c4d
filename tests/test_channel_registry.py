"""A channel is one adapter plus one registry entry.

A throw-away channel kind ("loopback": JSON over HTTP, a shared secret in a header, no
passive reply, no send window) is added in one place, `registry.register`, and it is then
routable (/hooks/loopback/<key>), loadable from a shop file (its own field checked) and
sendable (agent replies and keyword answers delivered by the job through its adapter). On a
channel without a passive reply a keyword answer is an outbox row; the Official Account
keeps its passive reply.
"""
from __future__ import annotations

import copy
import hmac
import io
import json
import re

import pytest
from sqlalchemy import func, select

from bridge.channels import registry
from bridge.channels.contract import (
    Capabilities,
    ChannelConfig,
    ChannelRuntime,
    HookRequest,
    HookResponse,
    InboundMessage,
    InvalidSignature,
    MalformedRequest,
    OutboundMessage,
    Reply,
)
from bridge.checks import REQUIRED, ConfigError, string
from bridge.infra import db, tasks
from bridge.models import Channel, Message
from tests.factories import BurstWorker, load_shop, login, post_acme, shop_doc, text_xml

SENT: list[tuple[str, OutboundMessage]] = []  # what the loopback "platform" received


class LoopbackAdapter:
    """A channel whose platform posts {"from", "id", "text"} with its secret in a header."""

    def __init__(self, channel: ChannelConfig, runtime: ChannelRuntime):
        self.channel = channel

    def verify(self, req: HookRequest) -> None:
        given = req.headers.get("X-Loopback-Secret", "")
        if not hmac.compare_digest(given.encode(), self.channel.settings["secret"].encode()):
            raise InvalidSignature("bad secret")

    def echo(self, req: HookRequest) -> HookResponse:
        return HookResponse("loopback")

    def parse(self, req: HookRequest) -> list[InboundMessage]:
        if not req.content_type.startswith("application/json"):
            raise MalformedRequest("JSON only")
        body = json.loads(req.body)
        return [InboundMessage(channel_key=self.channel.key, user_id=body["from"], external_id=body["id"],
                               kind="text", created_at=0, text=body["text"], raw=body)]

    def respond(self, req: HookRequest, inbound: InboundMessage | None, reply: Reply | None) -> HookResponse:
        assert reply is None, "a channel without a passive reply is never handed one"
        return HookResponse('{"ok": true}', content_type="application/json")

    def send(self, out: OutboundMessage) -> None:
        SENT.append((self.channel.key, out))

    def upload_image(self, filename: str, content: bytes, content_type: str) -> str:
        raise AssertionError("loopback declares no media upload")


LOOPBACK = registry.ChannelKind(
    kind="loopback", title="loopback", segment="loopback",
    fields={"secret": (string(64, re.compile(r"^.{8,}$"), "at least 8 characters"), REQUIRED)},
    capabilities=Capabilities(passive_reply=False, media_upload=False),
    adapter=LoopbackAdapter,
)
SECRET = "loop-secret-1"


@pytest.fixture
def loopback(app):
    registry.register(LOOPBACK)
    SENT.clear()
    doc = shop_doc()
    doc["shops"][0]["channels"].append({"kind": "loopback", "key": "acme-loop", "secret": SECRET})
    yield load_shop(app, doc)
    registry.unregister("loopback")


def post_loop(client, openid: str, msg_id: str, text: str, secret: str = SECRET):
    return client.post("/hooks/loopback/acme-loop", headers={"X-Loopback-Secret": secret},
                       json={"from": openid, "id": msg_id, "text": text})


def run_jobs(app) -> None:
    with app.app_context():
        BurstWorker(tasks.worker_queues(app), connection=app.extensions["redis"]).work(burst=True)


def bot_rows(app) -> list[Message]:
    with db.new_session(app) as s:
        return s.scalars(select(Message).where(Message.sender == "bot").order_by(Message.id)).all()


def test_a_registered_kind_is_loadable_and_its_fields_are_checked(app, loopback):
    with db.new_session(app) as s:
        channel = s.scalar(select(Channel).where(Channel.key == "acme-loop"))
        assert (channel.kind, channel.settings) == ("loopback", {"secret": SECRET})
    broken = shop_doc()
    broken["shops"][0]["channels"].append({"kind": "loopback", "key": "acme-loop2", "secret": "short"})
    with pytest.raises(ConfigError, match=r"shops\[0\]\.channels\[2\]\.secret: must be at least 8 characters"):
        load_shop(app, broken)
    unknown = copy.deepcopy(broken)
    unknown["shops"][0]["channels"][2] = {"kind": "loopback", "key": "acme-loop2", "secret": SECRET,
                                          "token": "x"}
    with pytest.raises(ConfigError, match=r"channels\[2\]\.token: unknown key"):
        load_shop(app, unknown)


def test_a_registered_kind_is_routable_and_refuses_what_its_adapter_refuses(app, client, loopback):
    assert client.get("/hooks/loopback/acme-loop", headers={"X-Loopback-Secret": SECRET}).data == b"loopback"
    assert post_loop(client, "v-1", "m-0", "hello", secret="wrong-secret").status_code == 403
    assert client.post("/hooks/wechat-oa/acme-loop", data=b"<xml/>").status_code == 404  # not its segment
    with db.new_session(app) as s:
        assert s.scalar(select(func.count()).select_from(Message)) == 0


def test_keyword_answer_without_a_passive_reply_is_delivered_by_the_job(app, client, loopback):
    resp = post_loop(client, "v-1", "m-1", "什么时候发货")

    assert resp.status_code == 200 and resp.get_json() == {"ok": True}  # acknowledged at once
    [bot] = bot_rows(app)
    assert (bot.text, bot.delivery) == ("48小时内发货", "pending")
    assert SENT == []

    again = post_loop(client, "v-1", "m-1", "什么时候发货")  # the platform's retry
    assert again.get_json() == {"ok": True}
    run_jobs(app)

    assert [(key, out.to, out.text) for key, out in SENT] == [("acme-loop", "v-1", "48小时内发货")]
    [bot] = bot_rows(app)
    assert bot.delivery == "sent"


def test_the_official_account_keeps_its_passive_reply(app, client, loopback):
    resp = post_acme(client, text_xml("o-passive", "什么时候发货"))

    assert "<Content><![CDATA[48小时内发货]]></Content>" in resp.data.decode()
    [bot] = bot_rows(app)
    assert bot.delivery is None  # answered in the response: nothing for the outbox
    run_jobs(app)
    assert SENT == []


def test_agent_reply_is_sent_through_the_registered_adapter(app, client, loopback):
    post_loop(client, "v-2", "m-2", "我想问一下尺码")
    headers = login(client, "alice")
    client.patch("/api/v1/me", headers=headers, json={"status": "online"})
    run_jobs(app)  # routing: alice takes the shopper
    [conversation] = client.get("/api/v1/conversations?state=active", headers=headers).get_json()["items"]
    assert conversation["channel"] == {"key": "acme-loop", "kind": "loopback"}

    posted = client.post(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers,
                         json={"type": "text", "text": "M码合适"})
    assert posted.status_code == 201
    run_jobs(app)

    assert ("acme-loop", "v-2", "M码合适") in [(key, out.to, out.text) for key, out in SENT]
    shown = client.get(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers).get_json()
    assert {m["text"]: m["delivery"]["state"] for m in shown["items"] if m["sender"] == "agent"} == {
        "M码合适": "sent"}
    image = client.post(f"/api/v1/conversations/{conversation['id']}/messages", headers=headers,
                        data={"image": (io.BytesIO(b"\x89PNG"), "a.png", "image/png")})
    assert image.status_code == 422 and "does not take images" in image.get_json()["error"]["message"]


def test_a_send_on_a_kind_no_longer_served_fails_visibly_instead_of_hanging(app, client, loopback):
    post_loop(client, "v-3", "m-3", "什么时候发货")  # the keyword answer waits in the outbox
    registry.unregister("loopback")  # the kind is gone before the job runs
    try:
        run_jobs(app)
        [bot] = bot_rows(app)
        assert (bot.delivery, bot.error_code) == ("failed", "no_adapter")
        assert SENT == []
    finally:
        registry.register(LOOPBACK)  # the fixture unregisters it
