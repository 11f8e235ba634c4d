"""The OA adapter alone: official vectors, every push type, and what it refuses."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from wechatpy.crypto import WeChatCrypto

from adapters.wechat.oa import WeChatOAAdapter
from adapters.wechat.signature import url_signature
from bridge.channels.contract import (
    ChannelConfig,
    ChannelRuntime,
    HookRequest,
    InvalidSignature,
    MalformedRequest,
    PayloadTooLarge,
    Reply,
)
from tests.factories import push_xml, signed

VECTORS = json.loads((Path(__file__).parent / "wechat_vectors.json").read_text())


def adapter_for(token: str, aes_key: str | None = None, app_id: str = "wx0000000000000000",
                now: float | None = None) -> WeChatOAAdapter:
    settings = {"app_id": app_id, "app_secret": "s", "token": token, "encoding_aes_key": aes_key}
    channel = ChannelConfig(id=1, shop_id=1, kind="wechat_oa", key="k", settings=settings)
    runtime = ChannelRuntime(redis=None, key_prefix="{shop:1}", http=None, settings={}, signature_max_age=300,
                             clock=(lambda: now) if now else __import__("time").time)
    return WeChatOAAdapter(channel, runtime)


# -- official vectors (shared/wechat/vectors.json, copied to tests/wechat_vectors.json) ------------

def test_get_verification_vector_echoes_echostr():
    v = VECTORS["get_verification_example"]
    adapter = adapter_for(v["token"], now=int(v["timestamp"]))
    req = HookRequest("GET", {k: v[k] for k in ("signature", "timestamp", "nonce", "echostr")})
    adapter.verify(req)
    assert adapter.echo(req).body == v["echostr"]


def test_official_oa_safe_mode_vector_decrypts_to_the_sample_text():
    v = VECTORS["oa_official_xml"]
    adapter = adapter_for(v["token"], v["encoding_aes_key"], v["app_id"], now=int(v["timestamp"]))
    args = {k: v[k] for k in ("signature", "timestamp", "nonce", "msg_signature")}
    body = (f"<xml><ToUserName><![CDATA[{v['to_user_name']}]]></ToUserName>"
            f"<Encrypt><![CDATA[{v['encrypt']}]]></Encrypt></xml>").encode()
    req = HookRequest("POST", {**args, "encrypt_type": "aes"}, body)
    adapter.verify(req)
    [msg] = adapter.parse(req)
    assert (msg.kind, msg.text, msg.user_id, msg.external_id, msg.account_id, msg.created_at) == (
        "text", "abcdteT", "oyORnuP8q7ou2gfYjqLzSIWZf0rs", "6054768590064713728", "gh_10f6c3c3ac5a",
        1409735668)


def test_official_signatures_match_our_signing():
    oa, mp = VECTORS["oa_official_xml"], VECTORS["mp_official_json"]
    assert url_signature(oa["token"], oa["timestamp"], oa["nonce"]) == oa["signature"]
    assert url_signature(oa["token"], oa["timestamp"], oa["nonce"], oa["encrypt"]) == oa["msg_signature"]
    assert url_signature(mp["token"], mp["timestamp"], mp["nonce"]) == mp["signature"]
    assert url_signature(mp["token"], mp["timestamp"], mp["nonce"], mp["encrypt"]) == mp["msg_signature"]
    ex = mp["plain_mode_signature_example"]
    assert url_signature(mp["token"], ex["timestamp"], ex["nonce"]) == ex["signature"]


def test_official_mini_program_json_vector_decrypts():
    v = VECTORS["mp_official_json"]
    crypto = WeChatCrypto(v["token"], v["encoding_aes_key"], v["app_id"])
    plain = crypto.decrypt_message({"Encrypt": v["encrypt"]}, v["msg_signature"], v["timestamp"], v["nonce"])
    assert plain == v["plaintext"]


# -- verification -----------------------------------------------------------------------------

@pytest.mark.parametrize("change, reason", [
    ({"signature": "0" * 40}, "does not match"),
    ({"timestamp": "1000"}, "window"),
    ({"timestamp": "abc"}, "window"),
    ({"nonce": ""}, "required"),
])
def test_bad_url_signatures_are_refused(change, reason):
    args, _ = signed("tok123", "<xml/>")
    with pytest.raises(InvalidSignature, match=reason):
        adapter_for("tok123").verify(HookRequest("POST", {**args, **change}))


def test_signature_is_refused_with_another_token():
    args, _ = signed("tok123", "<xml/>")
    with pytest.raises(InvalidSignature):
        adapter_for("other").verify(HookRequest("POST", args))


# -- every push type becomes one normalized message -----------------------------------------------

PUSHES = [
    ("<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[this is a test]]></Content><MsgId>1234567890123456</MsgId>",
     {"kind": "text", "text": "this is a test", "external_id": "1234567890123456"}),
    ("<MsgType><![CDATA[image]]></MsgType><PicUrl><![CDATA[this is a url]]></PicUrl><MediaId><![CDATA[media_id]]></MediaId><MsgId>11</MsgId>",
     {"kind": "image", "media": {"media_id": "media_id", "pic_url": "this is a url"}}),
    ("<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[m]]></MediaId><Format><![CDATA[amr]]></Format><Recognition><![CDATA[腾讯微信团队]]></Recognition><MsgId>12</MsgId>",
     {"kind": "voice", "text": "腾讯微信团队", "media": {"media_id": "m", "format": "amr", "recognition": "腾讯微信团队"}}),
    ("<MsgType><![CDATA[voice]]></MsgType><MediaId><![CDATA[m]]></MediaId><Format><![CDATA[amr]]></Format><MsgId>13</MsgId>",
     {"kind": "voice", "text": None}),
    ("<MsgType><![CDATA[video]]></MsgType><MediaId><![CDATA[m]]></MediaId><ThumbMediaId><![CDATA[t]]></ThumbMediaId><MsgId>14</MsgId>",
     {"kind": "video", "media": {"media_id": "m", "thumb_media_id": "t"}}),
    ("<MsgType><![CDATA[shortvideo]]></MsgType><MediaId><![CDATA[m]]></MediaId><ThumbMediaId><![CDATA[t]]></ThumbMediaId><MsgId>15</MsgId>",
     {"kind": "shortvideo", "media": {"media_id": "m", "thumb_media_id": "t"}}),
    ("<MsgType><![CDATA[location]]></MsgType><Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y><Scale>20</Scale><Label><![CDATA[位置信息]]></Label><MsgId>16</MsgId>",
     {"kind": "location", "text": "位置信息", "media": {"x": "23.134521", "y": "113.358803", "scale": "20", "label": "位置信息"}}),
    ("<MsgType><![CDATA[link]]></MsgType><Title><![CDATA[公众平台官网链接]]></Title><Description><![CDATA[d]]></Description><Url><![CDATA[url]]></Url><MsgId>17</MsgId>",
     {"kind": "link", "text": "公众平台官网链接", "media": {"title": "公众平台官网链接", "description": "d", "url": "url"}}),
    ("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>",
     {"kind": "event", "event": "subscribe", "event_key": None, "external_id": "ev:fromUser:1348831860:subscribe",
      "follows": True, "entry": {}}),
    ("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_123123]]></EventKey><Ticket><![CDATA[TICKET]]></Ticket>",
     {"kind": "event", "event": "subscribe", "event_key": "123123", "follows": True, "entry": {"scene": "123123"}}),
    ("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unsubscribe]]></Event>",
     {"kind": "event", "event": "unsubscribe", "follows": False, "entry": {}}),
    ("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[SCAN]]></Event><EventKey><![CDATA[SCENE_VALUE]]></EventKey><Ticket><![CDATA[TICKET]]></Ticket>",
     {"kind": "event", "event": "scan", "event_key": "SCENE_VALUE", "follows": None,
      "entry": {"scene": "SCENE_VALUE"}}),
    ("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[LOCATION]]></Event><Latitude>23.137466</Latitude><Longitude>113.352425</Longitude><Precision>119.385040</Precision>",
     {"kind": "event", "event": "location", "media": {"latitude": "23.137466", "longitude": "113.352425", "precision": "119.385040"}}),
    ("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[EVENTKEY]]></EventKey>",
     {"kind": "event", "event": "click", "event_key": "EVENTKEY", "entry": {"menu": "EVENTKEY"}}),
    ("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[VIEW]]></Event><EventKey><![CDATA[www.qq.com]]></EventKey><MenuId>MENUID</MenuId>",
     {"kind": "event", "event": "view", "event_key": "www.qq.com", "entry": {}}),
    ("<MsgType><![CDATA[miniprogrampage]]></MsgType><Title><![CDATA[t]]></Title><MsgId>18</MsgId>",
     {"kind": "miniprogrampage", "text": "t", "external_id": "18", "media": {"title": "t"}}),
    ("<MsgType><![CDATA[weapp_card]]></MsgType><Title><![CDATA[t]]></Title><MsgId>19</MsgId>",
     {"kind": "unknown", "text": None, "external_id": "19"}),
    ("<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[brand_new_event]]></Event>",
     {"kind": "event", "event": "brand_new_event"}),
]


@pytest.mark.parametrize("inner, expected", PUSHES, ids=[e.get("event") or e["kind"] for _, e in PUSHES])
def test_each_push_type_normalizes(inner, expected):
    body = push_xml("fromUser", inner, created=1348831860)
    args, data = signed("tok123", body, now=1348831860)
    adapter = adapter_for("tok123", now=1348831860)
    [msg] = adapter.parse(HookRequest("POST", args, data))
    assert msg.user_id == "fromUser" and msg.account_id == "gh_test" and msg.created_at == 1348831860
    for field, value in expected.items():
        assert getattr(msg, field) == value, field
    assert msg.raw["MsgType"]  # the whole push is kept


# -- hostile or broken bodies ----------------------------------------------------------------------

HOSTILE = [
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]><xml><Content>&lol2;</Content></xml>',
    b'<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Content>&xxe;</Content></xml>',
    b"<xml><!-- hidden --><MsgType>text</MsgType></xml>",
]


@pytest.mark.parametrize("body", HOSTILE)
def test_dtds_entities_and_comments_are_refused(body):
    args, _ = signed("tok123", "")
    with pytest.raises(MalformedRequest):
        adapter_for("tok123").parse(HookRequest("POST", args, body))


def test_entities_inside_the_encrypted_body_are_refused_too():
    inner = '<!DOCTYPE x [<!ENTITY a "b">]><xml><FromUserName>u</FromUserName></xml>'
    v = VECTORS["oa_official_xml"]
    args, body = signed(v["token"], inner, "safe", v["encoding_aes_key"], v["app_id"])
    adapter = adapter_for(v["token"], v["encoding_aes_key"], v["app_id"])
    with pytest.raises(MalformedRequest):
        adapter.parse(HookRequest("POST", args, body))


@pytest.mark.parametrize("body", [b"not xml", b"<xml><a></xml>", b'{"json": true}', b"<root/>",
                                  b"<xml><MsgType>text</MsgType></xml>"])
def test_malformed_bodies_are_refused(body):
    args, _ = signed("tok123", "")
    with pytest.raises(MalformedRequest):
        adapter_for("tok123").parse(HookRequest("POST", args, body))


def test_oversized_body_is_refused():
    args, _ = signed("tok123", "")
    with pytest.raises(PayloadTooLarge):
        adapter_for("tok123").parse(HookRequest("POST", args, b"<xml>" + b"a" * 70_000 + b"</xml>"))


def _safe(token="spamtest", key=VECTORS["oa_official_xml"]["encoding_aes_key"], app_id="wx2c2769f8efd9abc2"):
    return adapter_for(token, key, app_id)


def test_bad_msg_signature_is_refused():
    args, body = signed("spamtest", push_xml("u", "<MsgType>text</MsgType>"), "safe",
                        VECTORS["oa_official_xml"]["encoding_aes_key"], "wx2c2769f8efd9abc2")
    with pytest.raises(InvalidSignature, match="msg_signature"):
        _safe().parse(HookRequest("POST", {**args, "msg_signature": "f" * 40}, body))


def test_message_for_another_app_id_is_refused():
    args, body = signed("spamtest", push_xml("u", "<MsgType>text</MsgType>"), "safe",
                        VECTORS["oa_official_xml"]["encoding_aes_key"], "wx9999999999999999")
    with pytest.raises(InvalidSignature, match="app id"):
        _safe().parse(HookRequest("POST", args, body))


def test_undecryptable_body_is_refused():
    args, _ = signed("spamtest", "")
    garbage = "QUFBQUFBQUFBQUFBQUFBQQ=="
    args.update(encrypt_type="aes", msg_signature=url_signature("spamtest", args["timestamp"], args["nonce"], garbage))
    body = f"<xml><Encrypt><![CDATA[{garbage}]]></Encrypt></xml>".encode()
    with pytest.raises(MalformedRequest, match="decrypted"):
        _safe().parse(HookRequest("POST", args, body))


# -- passive replies ---------------------------------------------------------------------------------

def test_passive_reply_swaps_sender_and_receiver():
    args, data = signed("tok123", push_xml("shopper", "<MsgType>text</MsgType><Content>x</Content><MsgId>1</MsgId>"))
    adapter = adapter_for("tok123")
    req = HookRequest("POST", args, data)
    [msg] = adapter.parse(req)
    xml = adapter.respond(req, msg, Reply("text", "你好")).body
    assert "<ToUserName><![CDATA[shopper]]></ToUserName>" in xml
    assert "<FromUserName><![CDATA[gh_test]]></FromUserName>" in xml
    assert "<Content><![CDATA[你好]]></Content>" in xml
    assert adapter.respond(req, msg, None).body == "success"


def test_safe_mode_reply_is_encrypted_and_signed():
    v = VECTORS["oa_official_xml"]
    args, data = signed(v["token"], push_xml("shopper", "<MsgType>text</MsgType><Content>x</Content><MsgId>1</MsgId>"),
                        "safe", v["encoding_aes_key"], v["app_id"])
    adapter = _safe()
    req = HookRequest("POST", args, data)
    [msg] = adapter.parse(req)
    envelope = adapter.respond(req, msg, Reply("text", "加密的回答")).body
    assert "加密的回答" not in envelope
    fields = {t: envelope.split(f"<{t}>")[1].split(f"</{t}>")[0].replace("<![CDATA[", "").replace("]]>", "")
              for t in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")}
    assert url_signature(v["token"], fields["TimeStamp"], fields["Nonce"], fields["Encrypt"]) == fields["MsgSignature"]
    plain = WeChatCrypto(v["token"], v["encoding_aes_key"], v["app_id"]).decrypt_message(
        {"Encrypt": fields["Encrypt"]}, fields["MsgSignature"], fields["TimeStamp"], fields["Nonce"])
    assert "<Content><![CDATA[加密的回答]]></Content>" in plain


def test_our_copy_of_the_vectors_is_the_shared_one():
    shared = Path(__file__).resolve().parents[2] / "shared" / "wechat" / "vectors.json"
    if not shared.exists():
        pytest.skip("shared/ is not beside this checkout")
    assert json.loads(shared.read_text()) == VECTORS
