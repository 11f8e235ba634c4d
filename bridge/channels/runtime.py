"""What the bridge hands an adapter (Redis, HTTP, the settings), and adapters for stored channels."""
from __future__ import annotations

import threading
from dataclasses import replace

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
    """The adapter that sends through the channel. LookupError for a kind the registry does not
    know or does not serve (yet), and for a sandbox channel outside demo mode."""
    config = channel if isinstance(channel, ChannelConfig) else snapshot(channel)
    kind = registry.KINDS.get(config.kind)
    if kind is None:
        raise LookupError(f"no channel kind {config.kind!r}")
    handed = runtime(app, kind, config.shop_id)
    if config.settings.get("sandbox"):
        if not app.config.get("DEMO_URL"):
            raise LookupError(f"channel {config.key!r} is a sandbox channel: it talks only to the demo's "
                              "WeChat, which runs with `make run` or KEFU_DEMO_URL")
        handed = replace(handed, settings={**handed.settings, "WECHAT_API_BASE": demo_api_base(app)})
    return registry.adapter(config, handed)


def demo_api_base(app: Flask) -> str:
    """Where the demo's WeChat answers (bridge/demo/views.py)."""
    return app.config["DEMO_URL"].rstrip("/") + "/demo/wechat-api"
