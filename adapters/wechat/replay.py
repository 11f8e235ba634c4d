"""A signed push is good for one body. WeChat's URL signature covers only the token, timestamp
and nonce, so within the timestamp window a captured URL would carry any other body; the
bridge remembers which body each signature came with and refuses it with another.
WeChat's own retries send the same body and pass."""
from __future__ import annotations

import hashlib
import logging

from bridge.channels.contract import ChannelRuntime, InvalidSignature

log = logging.getLogger(__name__)


def refuse_reuse(runtime: ChannelRuntime, channel_key: str, signature: str, body: bytes, window: int) -> None:
    if not signature:
        return  # the URL check already refused it
    key = f"{runtime.key_prefix}wx:signed:{channel_key}:{signature.lower()[:40]}"
    digest = hashlib.sha1(body).hexdigest()
    try:
        if runtime.redis.set(key, digest, nx=True, ex=2 * window):
            return
        seen = runtime.redis.get(key)
    except Exception as exc:  # noqa: BLE001 - Redis down: the signature and dedupe still hold
        log.warning("channel %s: replay check skipped, Redis unavailable (%s)", channel_key, type(exc).__name__)
        return
    if seen is not None and (seen.decode() if isinstance(seen, bytes) else seen) != digest:
        raise InvalidSignature("this signature was already used with another body")
