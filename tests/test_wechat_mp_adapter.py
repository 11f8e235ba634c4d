"""The Mini Program adapter alone: the official JSON vector, every push kind in JSON and XML and
in each mode, the format told by the body's first byte (never the Content-Type), and what it
refuses before any work."""
from __future__ import annotations

import json

import pytest

from adapters.wechat.mp import WeChatMPAdapter
from adapters.wechat.mp_push import as_json, as_xml, enter_push, mp_push, signed, text_push
from bridge.channels.contract import (
    ChannelConfig,
    ChannelRuntime,
    HookRequest,
    InvalidSignature,
    MalformedRequest,
    PayloadTooLarge,
)
from tests.test_wechat_oa_adapter import VECTORS

KEY = VECTORS["mp_official_json"]["encoding_aes_key"]
APP_ID = VECTORS["mp_official_json"]["app_id"]


def adapter_for(token: str = "mptoken", aes_key: str | None = None, app_id: str = APP_ID, mode: str | None = None,
                now: float | None = None) -> WeChatMPAdapter:
    settings = {"app_id": app_id, "app_secret": "s", "token": token, "encoding_aes_key": aes_key, "mode": mode}
    channel = ChannelConfig(id=1, shop_id=1, kind="wechat_mp", key="mp", settings=settings)
    runtime = ChannelRuntime(redis=None, key_prefix="{shop:1}", http=None, settings={}, signature_max_age=300,
                             clock=(lambda: now) if now else __import__("time").time)
    return WeChatMPAdapter(channel, runtime)


def parse(adapter: WeChatMPAdapter, args: dict, body: bytes):
    req = HookRequest("POST", args, body, content_type="text/xml")
    adapter.verify(req)
    return adapter.parse(req)


def test_the_official_json_vector_passes_through_the_adapter():
    v = VECTORS["mp_official_json"]
    adapter = adapter_for(v["token"], v["encoding_aes_key"], v["app_id"], now=int(v["timestamp"]))
    args = {k: v[k] for k in ("signature", "timestamp", "nonce", "msg_signature")} | {"encrypt_type": "aes"}
    body = json.dumps({"ToUserName": v["to_user_name"], "Encrypt": v["encrypt"]}).encode()
    [msg] = parse(adapter, args, body)
    assert (msg.kind, msg.event, msg.user_id, msg.account_id, msg.created_at) == (
        "event", "debug_demo", "o9AgO5Kd5ggOC-bXrbNODIiE3bGY", "gh_97417a04a28d", 1714112445)
    assert msg.raw["debug_str"] == "hello world"
    forged = {**args, "msg_signature": "0" * 40}
    with pytest.raises(InvalidSignature):
        parse(adapter, forged, body)


@pytest.mark.parametrize("fmt", ["json", "xml"])
@pytest.mark.parametrize("mode", ["plain", "compat", "safe"])
def test_every_kind_in_each_format_and_mode(fmt, mode):
    aes = None if mode == "plain" else KEY
    adapter = adapter_for(aes_key=aes, mode=mode)
    pushes = {
        "text": text_push("o-mp", "你好 <b>&</b>"),
        "image": mp_push("o-mp", "image", {"PicUrl": "https://mmbiz.qpic.cn/x", "MediaId": "m-1"}),
        "miniprogrampage": mp_push("o-mp", "miniprogrampage", {
            "Title": "夏季连衣裙", "AppId": APP_ID, "PagePath": "pages/item/item?id=42",
            "ThumbUrl": "https://mmbiz.qpic.cn/t", "ThumbMediaId": "thumb-1"}),
        "enter": enter_push("o-mp", "product-42"),
        "unknown": mp_push("o-mp", "weapp_order", {"Detail": {"order": "N1"}}),
    }
    got = {}
    for name, push in pushes.items():
        args, body = signed("mptoken", push, fmt, mode, aes, APP_ID)
        [got[name]] = parse(adapter, args, body)
    assert (got["text"].kind, got["text"].text, got["text"].external_id) == (
        "text", "你好 <b>&</b>", str(pushes["text"]["MsgId"]))
    assert got["image"].kind == "image" and got["image"].media["media_id"] == "m-1"
    page = got["miniprogrampage"]
    assert page.kind == "miniprogrampage" and page.text == "夏季连衣裙"
    assert page.media == {"title": "夏季连衣裙", "app_id": APP_ID, "page_path": "pages/item/item?id=42",
                          "thumb_url": "https://mmbiz.qpic.cn/t", "media_id": "thumb-1"}
    enter = got["enter"]
    assert (enter.kind, enter.event, dict(enter.entry)) == ("event", "user_enter_tempsession", {"scene": "product-42"})
    assert enter.external_id.startswith("ev:o-mp:")
    assert got["unknown"].kind == "unknown"


def test_the_format_is_the_first_bytes_never_the_content_type():
    adapter = adapter_for()
    args, body = signed("mptoken", text_push("o-mp", "hi"), "json")
    for content_type in ("text/xml", "application/json", "application/x-www-form-urlencoded", ""):
        req = HookRequest("POST", args, b"\xef\xbb\xbf \n" + body, content_type=content_type)
        assert adapter.parse(req)[0].text == "hi"
    args, body = signed("mptoken", text_push("o-mp", "hi"), "xml")
    assert adapter.parse(HookRequest("POST", args, body, content_type="application/json"))[0].text == "hi"


def test_a_long_session_from_is_kept_whole_in_raw_and_cut_for_the_scene():
    adapter = adapter_for()
    [msg] = parse(adapter, *signed("mptoken", enter_push("o-mp", "s" * 1000)))
    assert msg.entry["scene"] == "s" * 128 and msg.raw["SessionFrom"] == "s" * 1000


def sealed(push: dict, fmt: str = "json", app_id: str = APP_ID, token: str = "mptoken"):
    return signed(token, push, fmt, "safe", KEY, app_id)


@pytest.mark.parametrize("name, make, error", [
    ("not JSON nor XML", lambda: signed("mptoken", {})[0:1] + (b"hello",), MalformedRequest),
    ("malformed JSON", lambda: (signed("mptoken", {})[0], b'{"ToUserName": '), MalformedRequest),
    ("a JSON array", lambda: (signed("mptoken", {})[0], b"[1, 2]"), MalformedRequest),
    ("NaN", lambda: (signed("mptoken", {})[0], b'{"CreateTime": NaN}'), MalformedRequest),
    ("nested too deep", lambda: (signed("mptoken", {})[0], b"{" + b'"a":[' * 30000 + b"]" * 30000 + b"}"),
     (MalformedRequest, PayloadTooLarge)),
    ("a lone surrogate", lambda: (signed("mptoken", {})[0], b'{"FromUserName": "o-mp", "CreateTime": 1, '
                                  b'"MsgType": "text", "Content": "\\ud800", "MsgId": 1}'), MalformedRequest),
    ("DOCTYPE in XML", lambda: (signed("mptoken", {})[0],
                                b'<!DOCTYPE x [<!ENTITY e "boom">]><xml><FromUserName>&e;</FromUserName></xml>'),
     MalformedRequest),
    ("no FromUserName", lambda: signed("mptoken", {"MsgType": "text", "CreateTime": 1}), MalformedRequest),
    ("over the cap", lambda: signed("mptoken", text_push("o-mp", "x" * 70_000)), PayloadTooLarge),
])
def test_hostile_input_is_refused(name, make, error):
    args, body = make()
    with pytest.raises(error):
        parse(adapter_for(), args, body)


def test_safe_mode_refuses_what_is_not_sealed_for_it():
    adapter = adapter_for(aes_key=KEY, mode="safe")
    with pytest.raises(MalformedRequest):  # in the clear on a safe channel
        parse(adapter, *signed("mptoken", text_push("o-mp", "hi")))
    args, body = sealed(text_push("o-mp", "hi"))
    with pytest.raises(InvalidSignature):  # msg_signature not over this Encrypt
        parse(adapter, {**args, "msg_signature": "f" * 40}, body)
    with pytest.raises(InvalidSignature):  # sealed for another Mini Program
        parse(adapter, *sealed(text_push("o-mp", "hi"), app_id="wx9999999999999999"))
    doc = json.loads(body)
    doc["Encrypt"] = doc["Encrypt"][:-8] + "AAAAAAA="
    from adapters.wechat.signature import url_signature
    args = {**args, "msg_signature": url_signature("mptoken", args["timestamp"], args["nonce"], doc["Encrypt"])}
    with pytest.raises(MalformedRequest):  # undecryptable under a valid msg_signature
        parse(adapter, args, as_json(doc).encode())
    plain = adapter_for()
    with pytest.raises(MalformedRequest):  # sealed, to a plain-mode channel
        parse(plain, *sealed(text_push("o-mp", "hi")))
    assert as_xml({"a": 1}) == "<xml><a>1</a></xml>"
