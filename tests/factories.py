"""Test shops, loaded through the real loader, and their signed WeChat pushes."""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from types import SimpleNamespace

from rq import SimpleWorker
from sqlalchemy import select

from adapters.wechat.push import push_xml, signed, text_xml  # noqa: F401  (the tests' pushes)
from bridge.infra import db
from bridge.models import Agent, Channel, Shop
from bridge.shops.file import validate
from bridge.shops.load import apply

OFFICIAL = {  # the official WXBizMsgCrypt sample (FACTS.md §6 A), also kept here for CI clones
    "token": "spamtest", "encoding_aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
    "app_id": "wx2c2769f8efd9abc2",
}

BASE_SHOP = {
    "key": "acme", "name": "Acme 旗舰店", "timezone": "Asia/Shanghai",
    "settings": {"routing": "least_load"},
    "channels": [
        {"kind": "wechat_oa", "key": "acme-oa", "app_id": "wx00000000000000a1",
         "app_secret": "secret-a1", "token": "acmetoken"},
        {"kind": "wechat_oa", "key": "acme-safe", "app_id": OFFICIAL["app_id"],
         "app_secret": "secret-safe", "token": OFFICIAL["token"],
         "encoding_aes_key": OFFICIAL["encoding_aes_key"]},
    ],
    "groups": [{"key": "presales", "name": "售前"}],
    "agents": [
        {"username": "alice", "password": "alice-password", "name": "Alice", "role": "admin",
         "groups": ["presales"]},
        {"username": "bob", "password": "bob-password", "name": "Bob"},
    ],
    "auto_replies": [
        {"keywords": ["发货", "shipping"], "match": "contains", "priority": 10,
         "reply": {"type": "text", "text": "48小时内发货"}},
        {"keywords": ["hi"], "match": "exact", "priority": 1, "reply": {"type": "text", "text": "hello!"}},
        {"keywords": ["^\\d{6,}$"], "match": "regex", "reply": {"type": "text", "text": "订单号已收到"}},
    ],
    "quick_phrases": [{"title": "问候", "text": "在的"}],
}

OTHER_SHOP = {
    "key": "other", "name": "Other Shop",
    "channels": [{"kind": "wechat_oa", "key": "other-oa", "app_id": "wx00000000000000b2",
                  "app_secret": "secret-b2", "token": "othertoken"}],
    "agents": [{"username": "mallory", "password": "mallory-password", "name": "Mallory", "role": "admin"}],
}


def shop_doc(*extra_shops: dict, **overrides) -> dict:
    shop = copy.deepcopy(BASE_SHOP)
    shop.update(overrides)
    return {"shops": [shop, copy.deepcopy(OTHER_SHOP), *extra_shops]}


def load_shop(app, doc: dict) -> SimpleNamespace:
    """Load through the real loader; return the first shop's ids for the test."""
    with db.new_session(app) as session:
        apply(session, validate(doc), datetime.now(timezone.utc))
        session.commit()
        key = doc["shops"][0]["key"]
        shop = session.scalar(select(Shop).where(Shop.key == key))
        channels = {c.key: c for c in session.scalars(select(Channel).where(Channel.shop_id == shop.id))}
        agents = {a.username: a for a in session.scalars(select(Agent).where(Agent.shop_id == shop.id))}
    app.extensions["channel_cache"].clear()
    return SimpleNamespace(id=shop.id, key=key, channels=channels, agents=agents)


# -- pushes as WeChat sends them (FACTS.md §1) ------------------------------------------------

def post_oa(client, channel_key: str, token: str, body: str, mode: str = "plain", **kw):
    args, data = signed(token, body, mode, **kw)
    return client.post(f"/hooks/wechat-oa/{channel_key}", query_string=args, data=data,
                       content_type="text/xml")


def post_acme(client, body: str, mode: str = "plain"):
    """A push to the test shop: plain mode on acme-oa, compat/safe on acme-safe."""
    if mode == "plain":
        return post_oa(client, "acme-oa", "acmetoken", body)
    return post_oa(client, "acme-safe", OFFICIAL["token"], body, mode,
                   aes_key=OFFICIAL["encoding_aes_key"], app_id=OFFICIAL["app_id"])


def login(client, username: str = "alice", password: str | None = None, shop: str = "acme") -> dict:
    resp = client.post("/api/v1/auth/login", json={"shop": shop, "username": username,
                                                    "password": password or f"{username}-password"})
    assert resp.status_code == 200, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['token']}"}


class BurstWorker(SimpleWorker):
    """RQ's SimpleWorker, minus the pub/sub command channel a long-running worker listens on
    (stop, kill-horse): a burst run needs none, and closing it costs ~0.3 s a run (half of
    test_sessions' time once). Dequeueing, running and retrying jobs are RQ's own."""

    def subscribe(self) -> None:
        pass
