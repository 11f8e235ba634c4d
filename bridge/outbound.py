"""From a stored conversation to the channel's send API: the adapter and its API client."""
from __future__ import annotations

import threading

import requests
from flask import Flask

from adapters import adapter_class
from adapters.wechat_api import WeChatAPI
from bridge.messaging import ChannelConfig, OutboundMessage
from bridge.models import Channel, Conversation
from bridge.redisconn import shop_key

_local = threading.local()


def _http() -> requests.Session:
    """One keep-alive HTTP session per thread."""
    if not hasattr(_local, "http"):
        _local.http = requests.Session()
    return _local.http


def snapshot(channel: Channel) -> ChannelConfig:
    return ChannelConfig(
        id=channel.id, shop_id=channel.shop_id, kind=channel.kind, key=channel.key,
        app_id=channel.app_id, app_secret=channel.app_secret, token=channel.token,
        encoding_aes_key=channel.encoding_aes_key, data_format=channel.data_format,
        secret=channel.secret,
    )


def api_for(app: Flask, channel: Channel | ChannelConfig) -> WeChatAPI:
    return WeChatAPI(
        base_url=app.config["WECHAT_API_BASE"], app_id=channel.app_id or "",
        app_secret=channel.app_secret or "", redis_client=app.extensions["redis"],
        key_prefix=shop_key(channel.shop_id), http=_http(),
        timeout=app.config["WECHAT_HTTP_TIMEOUT"],
    )


def adapter_for(channel: Channel):
    return adapter_class(channel.kind)(snapshot(channel))


def send(app: Flask, conversation: Conversation, out: OutboundMessage) -> None:
    channel = conversation.channel
    adapter_for(channel).send(api_for(app, channel), out)


def upload_image(app: Flask, channel: Channel, filename: str, content: bytes,
                 content_type: str) -> str:
    return adapter_for(channel).upload_image(api_for(app, channel), filename, content, content_type)
