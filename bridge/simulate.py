"""Post a message to a channel's webhook exactly as WeChat would, and decode the answer."""
from __future__ import annotations

import secrets
import time

import requests
from flask import Flask
from sqlalchemy import select
from wechatpy.crypto import WeChatCrypto
from wechatpy.replies import TextReply

from adapters.wechat_oa import url_signature
from bridge import db
from bridge.models import Channel


def signed_oa_request(channel: Channel, openid: str, text: str, mode: str,
                      msg_id: int | None = None, now: int | None = None) -> tuple[dict[str, str], bytes]:
    """(query args, body) of an OA text push; mode plain | compat | safe."""
    now = now or int(time.time())
    nonce = str(secrets.randbelow(10**9))
    msg_id = msg_id or secrets.randbelow(2**62)
    plain = TextReply(source=openid, target="gh_simulator", time=now, content=text).render()
    plain = plain.replace("</xml>", f"<MsgId>{msg_id}</MsgId>\n</xml>")
    args = {"timestamp": str(now), "nonce": nonce, "openid": openid,
            "signature": url_signature(channel.token, str(now), nonce)}
    if mode == "plain":
        return args, plain.encode()
    crypto = WeChatCrypto(channel.token, channel.encoding_aes_key, channel.app_id)
    envelope = crypto.encrypt_message(plain, nonce, str(now))
    encrypt = envelope.split("<Encrypt><![CDATA[")[1].split("]]>")[0]
    args.update(encrypt_type="aes", msg_signature=url_signature(channel.token, str(now), nonce, encrypt))
    if mode == "compat":
        body = plain.replace("</xml>", f"<Encrypt><![CDATA[{encrypt}]]></Encrypt>\n</xml>")
    else:
        body = f"<xml><ToUserName><![CDATA[gh_simulator]]></ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return args, body.encode()


def decode_reply(channel: Channel, args: dict[str, str], body: str) -> str:
    if args.get("encrypt_type") != "aes" or "<Encrypt>" not in body:
        return body
    crypto = WeChatCrypto(channel.token, channel.encoding_aes_key, channel.app_id)
    fields = {tag: body.split(f"<{tag}>")[1].split(f"</{tag}>")[0].replace("<![CDATA[", "").replace("]]>", "")
              for tag in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")}
    return crypto.decrypt_message({"Encrypt": fields["Encrypt"]}, fields["MsgSignature"],
                                  fields["TimeStamp"], fields["Nonce"])


def simulate_oa_text(app: Flask, channel_key: str, openid: str, text: str,
                     base_url: str | None, mode: str) -> tuple[int, str]:
    with db.new_session(app) as session:
        channel = session.scalar(select(Channel).where(Channel.key == channel_key))
    if channel is None or channel.kind != "wechat_oa":
        raise LookupError(f"no Official Account channel {channel_key!r}")
    if mode == "auto":
        mode = "safe" if channel.encoding_aes_key else "plain"
    if mode != "plain" and not channel.encoding_aes_key:
        raise LookupError(f"channel {channel_key!r} has no encoding_aes_key for {mode} mode")
    args, body = signed_oa_request(channel, openid, text, mode)
    path = f"/hooks/wechat-oa/{channel_key}"
    headers = {"Content-Type": "text/xml"}
    if base_url:
        resp = requests.post(base_url.rstrip("/") + path, params=args, data=body, headers=headers, timeout=10)
        status, answer = resp.status_code, resp.text
    else:
        resp = app.test_client().post(path, query_string=args, data=body, headers=headers)
        status, answer = resp.status_code, resp.get_data(as_text=True)
    return status, decode_reply(channel, args, answer) if status == 200 else answer
