"""Play a channel's platform: post a message to a channel's webhook exactly as the platform
would (signed, encrypted), and read the answer as the shopper's app would."""
from __future__ import annotations

import requests
from flask import Flask
from sqlalchemy import select

from bridge.channels import registry
from bridge.channels.cache import snapshot
from bridge.infra import db
from bridge.models import Channel

TIMEOUT = 10  # seconds; WeChat itself gives up after 5


class Unreachable(Exception):
    """The server at --url did not answer; the message says where and why, in one line."""


def simulate(app: Flask, kind: registry.ChannelKind, channel_key: str, openid: str, what: str,
             given: dict[str, str | float], base_url: str | None, mode: str,
             flags: dict[str, bool] | None = None) -> tuple[int, str]:
    """(HTTP status, the reply as the shopper reads it) of one push of WHAT (a kind of the
    simulator's KINDS, with the fields GIVEN). BASE_URL: post to that server; else in-process.
    LookupError when there is no such channel; ValueError(field, why) for a push the platform
    never sends; Unreachable when BASE_URL does not answer. A simulator whose action is several
    pushes (a Mini Program's 客服 tap, then the text) posts each in turn, stopping at a refusal;
    FLAGS are its own switches (the Mini Program's --xml)."""
    with db.new_session(app) as session:
        channel = session.scalar(select(Channel).where(Channel.key == channel_key))
        config = snapshot(channel) if channel is not None else None
    if config is None or config.kind != kind.kind:
        raise LookupError(f"no {kind.title} channel {channel_key!r}")
    simulator = kind.simulator(config)
    if hasattr(simulator, "pushes"):
        pushes = simulator.pushes(openid, what, given, mode, **(flags or {}))
    else:
        pushes = [simulator.push(openid, what, given, mode)]
    path = f"/hooks/{kind.segment}/{channel_key}"
    replies = []
    for args, body, content_type in pushes:
        status, answer = _post(app, base_url, path, args, body, content_type)
        replies.append(simulator.read_reply(args, answer) if status == 200 else answer)
        if status != 200:
            break
    return status, "\n".join(replies)


def _post(app: Flask, base_url: str | None, path: str, args: dict[str, str], body: bytes,
          content_type: str) -> tuple[int, str]:
    headers = {"Content-Type": content_type}
    if base_url:
        url = base_url.rstrip("/") + path
        try:
            resp = requests.post(url, params=args, data=body, headers=headers, timeout=TIMEOUT)
        except requests.RequestException as exc:
            raise Unreachable(f"cannot reach {url}: {_why(exc)}") from None
        return resp.status_code, resp.text
    resp = app.test_client().post(path, query_string=args, data=body, headers=headers)
    return resp.status_code, resp.get_data(as_text=True)


def _why(exc: requests.RequestException) -> str:
    """What went wrong, as a person says it (requests' own message is a paragraph)."""
    if isinstance(exc, requests.Timeout):
        return f"no answer within {TIMEOUT} s"
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError):
        return "TLS handshake failed"
    if "refused" in text.lower():
        return "connection refused"
    if "resolve" in text.lower() or "name or service not known" in text.lower():
        return "unknown host"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return text.splitlines()[0][:200] if text else type(exc).__name__
