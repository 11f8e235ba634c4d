"""WeChat's retries racing each other across several server processes are stored once."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from bridge.infra import db
from bridge.models import Conversation, Customer, InboundReceipt, Message
from tests.conftest import make_app
from tests.factories import load_shop, shop_doc, signed, text_xml
from tests.live import app_env, gunicorn

COPIES = 8  # WeChat sends at most 3; more copies make the race harder


def _race(base: str, pushes: list[tuple[dict, bytes]]) -> list[list[requests.Response]]:
    """Every copy of every push at once, released together."""
    start = threading.Barrier(len(pushes) * COPIES)

    def send(push):
        args, body = push
        start.wait()
        return requests.post(f"{base}/hooks/wechat-oa/acme-oa", params=args, data=body, timeout=30)

    with ThreadPoolExecutor(len(pushes) * COPIES) as pool:
        futures = [[pool.submit(send, p) for _ in range(COPIES)] for p in pushes]
        return [[f.result() for f in copies] for copies in futures]


def _content(resp: requests.Response) -> str:
    text = resp.text
    return text.split("<Content><![CDATA[")[1].split("]]>")[0] if "<Content>" in text else text


def test_concurrent_retries_on_several_processes_are_stored_once(database_url, real_redis_url):
    app = make_app(database_url, real_redis_url)
    load_shop(app, shop_doc())

    # 6 shoppers; even ones ask something a rule answers, odd ones something no rule does;
    # two pushes come from one new shopper at once (its customer row is created under race).
    texts = ["发货吗", "我有个问题", "shipping?", "想咨询一下", "123456789", "还在吗"]
    pushes = [signed("acmetoken", text_xml(f"o-{i % 5}", t, msg_id=10_000 + i)) for i, t in enumerate(texts)]
    with gunicorn(app_env(database_url, real_redis_url), workers=4) as base:
        results = _race(base, pushes)

    expected = ["48小时内发货", "success", "48小时内发货", "success", "订单号已收到", "success"]
    for copies, want in zip(results, expected):
        assert [r.status_code for r in copies] == [200] * COPIES
        assert {_content(r) for r in copies} == {want}  # every copy got the first one's answer

    with db.new_session(app) as s:
        count = lambda model, *w: s.scalar(select(func.count()).select_from(model).where(*w))  # noqa: E731
        assert count(InboundReceipt) == len(texts)
        assert count(Message, Message.direction == "in") == len(texts)
        assert count(Message, Message.sender == "bot") == 3
        assert count(Customer) == 5
        # o-0 and o-5 … the shopper who wrote twice has one conversation, not two
        assert count(Conversation) == 5
    db.dispose(app)


def test_many_messages_from_the_same_new_shoppers_at_once_share_one_conversation(database_url, real_redis_url):
    """Every message is a different push, from a handful of first-time shoppers, all at once
    across 4 processes: each shopper ends with one customer row and one open conversation
    holding all their messages, queued (some messages asked something no rule answers)."""
    app = make_app(database_url, real_redis_url)
    load_shop(app, shop_doc())
    shoppers, per_shopper = 4, 6
    texts = ["发货吗", "我有个问题"] * (per_shopper // 2)  # a rule answers every other one
    pushes = [signed("acmetoken", text_xml(f"o-many-{s}", t, msg_id=20_000 + s * 100 + i))
              for s in range(shoppers) for i, t in enumerate(texts)]
    start = threading.Barrier(len(pushes))

    def send(push):
        args, body = push
        start.wait()
        return requests.post(f"{base}/hooks/wechat-oa/acme-oa", params=args, data=body, timeout=30)

    with gunicorn(app_env(database_url, real_redis_url), workers=4) as base, \
            ThreadPoolExecutor(len(pushes)) as pool:
        answers = list(pool.map(send, pushes))
    assert [r.status_code for r in answers] == [200] * len(pushes)
    assert sum("48小时内发货" in r.text for r in answers) == len(pushes) // 2

    with db.new_session(app) as s:
        conversations = s.scalars(select(Conversation)).all()
        assert s.scalar(select(func.count()).select_from(Customer)) == shoppers
        assert len(conversations) == shoppers
        for conversation in conversations:
            assert conversation.state == "queued" and conversation.awaiting_reply_since is not None
            inbound = s.scalar(select(func.count()).select_from(Message).where(
                Message.conversation_id == conversation.id, Message.direction == "in"))
            assert inbound == per_shopper
        assert s.scalar(select(func.count()).select_from(InboundReceipt)) == len(pushes)
    db.dispose(app)
