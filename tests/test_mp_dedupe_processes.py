"""A Mini Program's retries racing across four gunicorn processes are stored once, as the
Official Account's are (tests/test_dedupe_processes.py): messages by MsgId, the 客服 tap by
sender and CreateTime, in JSON and XML; every copy is answered `success`, and the robot's
keyword answer is queued for the customer-service API once."""
from __future__ import annotations

import copy
import threading
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import func, select

from adapters.wechat.mp_push import enter_push, signed, text_push
from bridge.infra import db
from bridge.models import Customer, InboundReceipt, Message
from tests.conftest import make_app
from tests.factories import BASE_SHOP, load_shop, shop_doc
from tests.live import app_env, gunicorn
from tests.test_mp_webhook import CHANNELS, MP_TOKEN

COPIES = 8


def test_concurrent_retries_of_mini_program_pushes_are_stored_once(database_url, real_redis_url):
    app = make_app(database_url, real_redis_url)
    load_shop(app, shop_doc(channels=copy.deepcopy(BASE_SHOP["channels"]) + CHANNELS))
    pushes = [signed(MP_TOKEN, text_push(f"o-mp-{i % 3}", t, created=1_700_000_000 + i), fmt)
              for i, (t, fmt) in enumerate([("什么时候发货", "json"), ("我有个问题", "xml"), ("在吗", "json"),
                                            ("还有别的", "xml")])]
    pushes.append(signed(MP_TOKEN, enter_push("o-mp-9", "vip", created=1_700_000_100)))
    start = threading.Barrier(len(pushes) * COPIES)

    def send(push):
        args, body = push
        start.wait()
        return requests.post(f"{base}/hooks/wechat-mp/acme-mp", params=args, data=body,
                             headers={"Content-Type": "text/xml"}, timeout=30)

    with gunicorn(app_env(database_url, real_redis_url), workers=4) as base:
        with ThreadPoolExecutor(len(pushes) * COPIES) as pool:
            results = [f.result() for f in [pool.submit(send, p) for p in pushes for _ in range(COPIES)]]
    assert {(r.status_code, r.text) for r in results} == {(200, "success")}

    with db.new_session(app) as s:
        def count(model, *where):
            return s.scalar(select(func.count()).select_from(model).where(*where))
        assert count(InboundReceipt) == len(pushes)
        assert count(Message, Message.direction == "in") == 4
        assert count(Message, Message.sender == "bot") == 1
        assert count(Customer) == 4
        assert s.scalar(select(Message.delivery).where(Message.sender == "bot")) == "pending"
        assert s.scalar(select(Customer.entry_scene).where(Customer.external_id == "o-mp-9")) == "vip"
    db.dispose(app)
