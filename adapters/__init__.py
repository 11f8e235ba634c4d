"""Channel adapters, one module per channel; the registry maps channel kind → adapter class."""
from __future__ import annotations

from adapters.wechat_oa import WeChatOAAdapter

ADAPTERS = {WeChatOAAdapter.kind: WeChatOAAdapter}

# The URL segment of each webhook (/hooks/<segment>/<channel_key>) → channel kind.
HOOK_KINDS = {"wechat-oa": WeChatOAAdapter.kind}


def adapter_class(kind: str):
    return ADAPTERS[kind]
