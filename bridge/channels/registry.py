"""The one place that names each channel kind: its webhook URL segment, its fields in the shop
file and their checks, its capabilities, its adapter (and its simulator, where there is one).

Everything else asks here: the webhook view, the shop-file checks and loader, delivery, the
CLI's `simulate`, the embedded banner. Adding a channel is an adapter module and an entry.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from adapters.wechat import app, mp, oa
from adapters.wechat.mp_push import MPSimulator
from adapters.wechat.push import OASimulator
from adapters.widget import adapter as widget
from bridge.channels.contract import (
    Adapter,
    Capabilities,
    ChannelConfig,
    ChannelRuntime,
)
from bridge.checks import REQUIRED, Check, ConfigError, boolean, list_of, mapping_of, obj, one_of, optional, string


@dataclass(frozen=True)
class ChannelKind:
    kind: str  # the shop file's `kind`, stored on the channel
    title: str  # what people call it
    segment: str | None  # its webhook is /hooks/<segment>/<channel key>; None: it has none
    fields: Mapping[str, tuple[Check, Any]]  # the shop file's fields beyond kind and key
    capabilities: Capabilities
    adapter: Callable[[ChannelConfig, ChannelRuntime], Adapter] | None = None  # None: not served yet
    simulator: Callable[[ChannelConfig], Any] | None = None  # plays the platform's part
    app_settings: tuple[str, ...] = ()  # the app settings its adapter is handed, and no others
    check: Callable[[dict[str, Any], str], None] | None = None  # the fields together; raises ConfigError


_WECHAT_API = ("WECHAT_API_BASE", "WECHAT_HTTP_TIMEOUT")


def _http_url(value: Any, path: str) -> str:
    string(1024)(value, path)
    if not value.startswith(("https://", "http://")) or any(ch.isspace() for ch in value):
        raise ConfigError(path, "must be an http:// or https:// URL")
    return value


_WECHAT_APP = {
    "app_id": (string(18, re.compile(r"^wx[0-9A-Za-z]{16}$"), "wx followed by 16 letters or digits"), REQUIRED),
    "app_secret": (string(128), REQUIRED),
    "token": (string(32, re.compile(r"^[A-Za-z0-9]{3,32}$"), "3 to 32 letters or digits"), REQUIRED),
    "encoding_aes_key": (optional(string(43, re.compile(r"^[A-Za-z0-9]{43}$"), "43 letters or digits")), None),
    # plain | compat | safe; unset: safe with an encoding_aes_key, else plain
    "mode": (optional(one_of(*oa.MODES)), None),
    # true: the app is the demo's, played by the bridge itself (bridge/demo); never the real WeChat
    "sandbox": (boolean, False),
}

# The notice an agent's outreach (主动发起会话) sends outside the shopper's 48-hour window
# (bridge/outreach): an OA template message, or a Mini Program subscribe message the shopper
# agreed to receive. Field values may say {text} (the agent's words), {agent}, {shop}.
_TEMPLATE_FIELDS = (mapping_of(string(32, re.compile(r"^[A-Za-z0-9_.]{1,32}$"), "a template field name"),
                              string(200), max_items=10), REQUIRED)
_OA_TEMPLATE = (optional(obj({"template_id": (string(64), REQUIRED), "url": (optional(_http_url), None),
                              "fields": _TEMPLATE_FIELDS})), None)
_MP_TEMPLATE = (optional(obj({"template_id": (string(64), REQUIRED), "page": (optional(string(512)), None),
                              "fields": _TEMPLATE_FIELDS})), None)


def _wechat_mode(fields: dict[str, Any], path: str) -> None:
    if fields.get("mode") in ("compat", "safe") and not fields.get("encoding_aes_key"):
        raise ConfigError(f"{path}.encoding_aes_key", f"is required in {fields['mode']} mode")


KINDS: dict[str, ChannelKind] = {}


def register(entry: ChannelKind) -> ChannelKind:
    if entry.kind in KINDS or (entry.segment and any(k.segment == entry.segment for k in KINDS.values())):
        raise ValueError(f"channel kind {entry.kind!r} or segment {entry.segment!r} is taken")
    KINDS[entry.kind] = entry
    return entry


def unregister(kind: str) -> None:
    KINDS.pop(kind, None)


def get(kind: str) -> ChannelKind:
    return KINDS[kind]


def served(segment: str) -> ChannelKind | None:
    """The kind whose webhook lives at /hooks/SEGMENT, if it is served."""
    for entry in KINDS.values():
        if segment and entry.segment == segment and entry.adapter is not None:
            return entry
    return None


def adapter(channel: ChannelConfig, runtime: ChannelRuntime) -> Adapter:
    entry = KINDS[channel.kind]
    if entry.adapter is None:
        raise LookupError(f"channel kind {channel.kind!r} has no adapter yet")
    return entry.adapter(channel, runtime)


register(ChannelKind(
    kind="wechat_oa", title="Official Account", segment="wechat-oa",
    fields={**_WECHAT_APP, "outreach_template": _OA_TEMPLATE},
    capabilities=Capabilities(passive_reply=True, media_upload=True, send_window=oa.SEND_WINDOW,
                              max_body=oa.MAX_BODY, media_max_bytes=oa.MAX_IMAGE,
                              media_fetch=True, fetch_max_bytes=oa.MAX_FETCH, typing=True,
                              send_types=oa.SEND_TYPES, card_forms=oa.CARD_FORMS),
    adapter=oa.WeChatOAAdapter, simulator=OASimulator, app_settings=_WECHAT_API, check=_wechat_mode,
))
register(ChannelKind(
    kind="wechat_mp", title="Mini Program", segment="wechat-mp",
    # data_format: what the Mini Program is configured to push (the simulator's default); the
    # webhook reads either, by the body's first byte.
    fields={**_WECHAT_APP, "data_format": (one_of("json", "xml"), "json"), "outreach_template": _MP_TEMPLATE},
    capabilities=Capabilities(passive_reply=False, media_upload=True, send_window=mp.SEND_WINDOW,
                              max_body=mp.MAX_BODY, media_max_bytes=app.MAX_IMAGE,
                              media_fetch=True, fetch_max_bytes=app.MAX_FETCH, typing=True,
                              send_types=mp.SEND_TYPES, card_forms=mp.CARD_FORMS),
    adapter=mp.WeChatMPAdapter, simulator=MPSimulator, app_settings=_WECHAT_API, check=_wechat_mode,
))
# An origin as a browser sends it: scheme, host and the port where it is not the scheme's own.
_ORIGIN = re.compile(r"^https?://(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:[0-9]{1,5})?$")
register(ChannelKind(
    kind="widget", title="web widget", segment=None,  # its own API under /widget/<key>, not a webhook
    fields={
        # signs visitors' tokens and is the key of data-user-hash (docs/widget.md)
        "secret": (string(128, re.compile(r"^.{16,}$"), "at least 16 characters"), REQUIRED),
        "require_identity": (boolean, False),  # true: only the shop's logged-in users may write
        # the shop pages the widget may run on; empty: any
        "allowed_origins": (list_of(string(200, _ORIGIN, "an origin such as https://shop.example"), 50), []),
    },
    capabilities=widget.CAPABILITIES, adapter=widget.WidgetAdapter,
))
