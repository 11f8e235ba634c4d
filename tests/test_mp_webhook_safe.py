"""The Mini Program's webhook in safe mode, over HTTP: the official JSON vector (FACTS.md §6 B)
posted as WeChat posts it — labelled text/xml — stored once across WeChat's retries; and every
way a sealed push can be wrong refused with its status, storing nothing."""
from __future__ import annotations

import copy
import json

import pytest

from adapters.wechat.envelope import Envelope, sealed_field
from adapters.wechat.mp_push import as_json, as_xml, signed, text_push
from adapters.wechat.signature import url_signature
from bridge.models import Customer, InboundReceipt, Message
from tests.factories import BASE_SHOP, load_shop, shop_doc
from tests.test_mp_webhook import CHANNELS, MP_TOKEN, SAFE_KEY, count
from tests.test_wechat_oa_adapter import VECTORS

SAFE_APP = "wx00000000000000d4"  # acme-mp-safe: safe mode, XML configured (JSON read all the same)
V = VECTORS["mp_official_json"]
VECTOR_CHANNEL = {"kind": "wechat_mp", "key": "vector-mp", "app_id": V["app_id"], "app_secret": "s",
                  "token": V["token"], "encoding_aes_key": V["encoding_aes_key"]}


@pytest.fixture
def safe(app):
    channels = copy.deepcopy(BASE_SHOP["channels"]) + copy.deepcopy(CHANNELS) + [VECTOR_CHANNEL]
    return load_shop(app, shop_doc(channels=channels))


def stored_nothing(app) -> bool:
    return count(app, Message) == count(app, Customer) == count(app, InboundReceipt) == 0


def test_the_official_json_vector_is_stored_once_and_acknowledged(app, client, safe):
    app.config["SIGNATURE_MAX_AGE"] = 10 ** 10  # the vector was signed in 2024
    args = {k: V[k] for k in ("signature", "timestamp", "nonce", "msg_signature")} | {"encrypt_type": "aes"}
    body = json.dumps({"ToUserName": V["to_user_name"], "Encrypt": V["encrypt"]})
    forged = client.post("/hooks/wechat-mp/vector-mp", query_string={**args, "msg_signature": "0" * 40},
                         data=body, content_type="text/xml")
    assert forged.status_code == 403 and stored_nothing(app)
    for _ in range(3):  # WeChat's tries of one push
        resp = client.post("/hooks/wechat-mp/vector-mp", query_string=args, data=body, content_type="text/xml")
        assert resp.status_code == 200 and resp.get_data(as_text=True) == "success"
    assert count(app, InboundReceipt) == 1 and count(app, Customer) == 1


def sealed_post(client, plaintext: str, fmt: str = "json", app_id: str = SAFE_APP, args_change: dict | None = None,
                envelope_change=None):
    """PLAINTEXT sealed as WeChat seals it for acme-mp-safe, the envelope in FMT, then changed."""
    args, _ = signed(MP_TOKEN, {})
    encrypt = sealed_field(Envelope(MP_TOKEN, SAFE_KEY, app_id).seal(plaintext, args["nonce"], args["timestamp"]),
                           "Encrypt")
    if envelope_change:
        encrypt = envelope_change(encrypt)
    args.update(encrypt_type="aes", msg_signature=url_signature(MP_TOKEN, args["timestamp"], args["nonce"], encrypt))
    outer = {"ToUserName": "gh_simulator", "Encrypt": encrypt}
    body = as_json(outer) if fmt == "json" else as_xml(outer)
    return client.post("/hooks/wechat-mp/acme-mp-safe", query_string={**args, **(args_change or {})},
                       data=body.encode(), content_type="text/xml")


GOOD = as_json(text_push("o-safe", "你好"))


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("name, plaintext, change, status", [
    ("bad msg_signature", GOOD, {"args_change": {"msg_signature": "f" * 40}}, 403),
    ("no msg_signature", GOOD, {"args_change": {"msg_signature": ""}}, 403),
    ("bad URL signature", GOOD, {"args_change": {"signature": "0" * 40}}, 403),
    ("stale timestamp", GOOD, {"args_change": {"timestamp": "1409735669"}}, 403),
    ("sealed for another app id", GOOD, {"app_id": "wx9999999999999999"}, 403),
    ("undecryptable", GOOD, {"envelope_change": lambda e: e[:-12] + "AAAAAAAAAAA="}, 400),
    ("DOCTYPE inside", '<!DOCTYPE x [<!ENTITY e "o-x">]><xml><FromUserName>&e;</FromUserName>'
                       "<CreateTime>1</CreateTime><MsgType>text</MsgType><MsgId>1</MsgId></xml>", {}, 400),
    ("malformed JSON inside", '{"FromUserName": "o-x", ', {}, 400),
    ("neither JSON nor XML inside", "FromUserName=o-x", {}, 400),
    ("over the cap", as_json(text_push("o-safe", "长" * 30_000)), {}, 413),
])
def test_a_bad_sealed_push_is_refused_and_stores_nothing(app, client, safe, fmt, name, plaintext, change, status):
    resp = sealed_post(client, plaintext, fmt, **change)
    assert resp.status_code == status, (name, resp.get_data(as_text=True))
    assert stored_nothing(app)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_the_same_sealed_push_in_either_format_is_stored(app, client, safe, fmt):
    """The control of the test above: unchanged, the sealed push lands."""
    resp = sealed_post(client, GOOD if fmt == "json" else as_xml(text_push("o-safe", "你好")), fmt)
    assert resp.get_data(as_text=True) == "success" and count(app, Message) == 1
