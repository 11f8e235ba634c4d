"""What the bridge hands an adapter (Redis, HTTP, the settings), and adapters for stored channels."""
from __future__ import annotations

import threading

import requests
from flask import Flask

from bridge import keys
from bridge.channels import registry
from bridge.channels.cache import snapshot
from bridge.channels.contract import Adapter, ChannelConfig, ChannelRuntime
from bridge.models import Channel

_local = threading.local()


def _http() -> requests.Session:
    """One keep-alive HTTP session per thread."""
    if not hasattr(_local, "http"):
        _local.http = requests.Session()
    return _local.http


def runtime(app: Flask, kind: registry.ChannelKind, shop_id: int) -> ChannelRuntime:
    return ChannelRuntime(redis=app.extensions["redis"], key_prefix=keys.shop_prefix(shop_id),
                          http=_http(), settings={name: app.config[name] for name in kind.app_settings},
                          signature_max_age=app.config["SIGNATURE_MAX_AGE"])


def adapter_for(app: Flask, channel: Channel | ChannelConfig) -> Adapter:
    """LookupError for a kind the registry does not know or does not serve (yet)."""
    config = channel if isinstance(channel, ChannelConfig) else snapshot(channel)
    kind = registry.KINDS.get(config.kind)
    if kind is None:
        raise LookupError(f"no channel kind {config.kind!r}")
    return registry.adapter(config, runtime(app, kind, config.shop_id))
