"""One webhook call: verify → parse → ingest each message → the channel's answer."""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import ContextManager

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from bridge.channels.cache import ChannelCache
from bridge.channels.contract import (
    Adapter,
    Capabilities,
    ChannelConfig,
    HookRequest,
    HookResponse,
    RequestRejected,
)
from bridge.ingest.pipeline import ingest

log = logging.getLogger(__name__)


def handle(engine: Engine, sessions: Callable[[], ContextManager[Session]], cache: ChannelCache,
           channel: ChannelConfig, capabilities: Capabilities, adapter: Adapter, req: HookRequest,
           read_body: Callable[[], bytes]) -> HookResponse:
    """The signature is checked before the body is even read. Ingest takes its connections
    from ENGINE; SESSIONS opens a short session for a cache miss."""
    try:
        adapter.verify(req)
        if req.method == "GET":
            return adapter.echo(req)
        req = replace(req, body=read_body())
        messages = adapter.parse(req)
    except RequestRejected as exc:
        log.warning("channel %s: refused %s (%s)", channel.key, req.method, exc.reason)
        return HookResponse(exc.reason, status=exc.status)
    matcher, settings = cache.shop(sessions, channel)
    blocked = cache.blocked(sessions, channel.shop_id)
    now = datetime.now(timezone.utc)
    first, reply = None, None
    for inbound in messages:
        answer = ingest(engine, channel, capabilities, inbound, matcher, settings, now,
                        blocked=(channel.id, inbound.user_id) in blocked)
        if first is None:
            first, reply = inbound, answer
    return adapter.respond(req, first, reply)
