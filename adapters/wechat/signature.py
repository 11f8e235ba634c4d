"""The URL signature WeChat puts on every push, and the msg_signature over an encrypted body.

Both are sha1 over the sorted token, timestamp, nonce (and the Encrypt field), compared in
constant time; the timestamp must be recent (FACTS.md §1).
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping

from bridge.channels.contract import InvalidSignature, whole_number


def url_signature(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, *extra])).encode()).hexdigest()


def check_url(args: Mapping[str, str], token: str, now: float, max_age: int) -> None:
    """The URL signature, in constant time, inside the timestamp window; before any parsing."""
    signature = args.get("signature", "")
    timestamp = args.get("timestamp", "")
    nonce = args.get("nonce", "")
    if not (signature and timestamp and nonce):
        raise InvalidSignature("signature, timestamp and nonce are required")
    stamp = whole_number(timestamp, 0, int(now) + max_age)
    if stamp is None or abs(now - stamp) > max_age:
        raise InvalidSignature("timestamp outside the accepted window")
    if not hmac.compare_digest(url_signature(token, timestamp, nonce), signature.lower()):
        raise InvalidSignature("signature does not match")


def check_msg(args: Mapping[str, str], token: str, encrypt: str) -> None:
    """The msg_signature over an encrypted body, in constant time, before decrypting it."""
    expected = url_signature(token, args.get("timestamp", ""), args.get("nonce", ""), encrypt)
    if not hmac.compare_digest(expected, args.get("msg_signature", "").lower()):
        raise InvalidSignature("msg_signature does not match")
