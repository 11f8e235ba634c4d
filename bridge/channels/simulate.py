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


def simulate_text(app: Flask, kind: registry.ChannelKind, channel_key: str, openid: str, text: str,
                  base_url: str | None, mode: str) -> tuple[int, str]:
    """(HTTP status, the reply as the shopper reads it) of one text push. BASE_URL: post to
    that server; else in-process. LookupError when there is no such channel."""
    with db.new_session(app) as session:
        channel = session.scalar(select(Channel).where(Channel.key == channel_key))
        config = snapshot(channel) if channel is not None else None
    if config is None or config.kind != kind.kind:
        raise LookupError(f"no {kind.title} channel {channel_key!r}")
    simulator = kind.simulator(config)
    args, body, content_type = simulator.text(openid, text, mode)
    path = f"/hooks/{kind.segment}/{channel_key}"
    headers = {"Content-Type": content_type}
    if base_url:
        resp = requests.post(base_url.rstrip("/") + path, params=args, data=body, headers=headers, timeout=10)
        status, answer = resp.status_code, resp.text
    else:
        resp = app.test_client().post(path, query_string=args, data=body, headers=headers)
        status, answer = resp.status_code, resp.get_data(as_text=True)
    return status, simulator.read_reply(args, answer) if status == 200 else answer
