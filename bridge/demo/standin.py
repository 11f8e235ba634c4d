"""The demo's WeChat: the documented API (bridge/demo/wechat_api.py) for the sandbox channels
stored in the bridge's own database, keeping what it delivers on the shoppers' phones.

Stateless across processes: access tokens are signed (app id, issue time) rather than
remembered, uploaded images are files, and the phone is a file, so any web process of a demo
deployment answers any call.
"""
from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from bridge.demo.phone import Phone
from bridge.demo.wechat_api import TOKEN_SECONDS, WeChatServer

MEDIA_ID = re.compile(r"^MEDIA_[0-9a-f]{24}$")


class StandIn(WeChatServer):
    def __init__(self, secret_key: str, folder: Path, sandbox_secret: Callable[[str], str | None],
                 public_base: str) -> None:
        super().__init__()
        self.public_base = public_base  # where this API answers: …/demo/wechat-api
        self.signer = TimestampSigner(secret_key, salt="kefu-demo-wechat-token")
        self.media_dir = folder / "media"
        self.phone = Phone(folder / "phone.jsonl")
        self.sandbox_secret = sandbox_secret

    def app_secret(self, app_id: str | None) -> str | None:
        return self.sandbox_secret(app_id) if app_id else None

    def issue_token(self, app_id: str, fresh: bool) -> tuple[str, float]:
        token = self.signer.sign(f"{app_id}.{secrets.token_hex(8)}").decode()
        return token, time.time() + TOKEN_SECONDS

    def token_owner(self, token: str | None) -> tuple[str | None, int]:
        try:
            value = self.signer.unsign(token or "", max_age=TOKEN_SECONDS).decode()
        except SignatureExpired:
            return None, 42001
        except BadSignature:
            return None, 40001
        app_id = value.rsplit(".", 1)[0]
        return (app_id, 0) if self.app_secret(app_id) is not None else (None, 40001)

    def delivered(self, app_id: str, body: dict) -> None:
        msg = {k: v for k, v in body.items() if k != "touser"}
        self.phone.add(app_id, body["touser"], "shop", "custom", msg)

    def stored(self, app_id: str, media_id: str, data: bytes) -> None:
        self.media_dir.mkdir(parents=True, exist_ok=True)
        (self.media_dir / media_id).write_bytes(data)

    def keep_media(self, data: bytes) -> str:
        """An image a demo shopper sends: kept as WeChat keeps it, under a new media id."""
        media_id = "MEDIA_" + secrets.token_hex(12)
        self.stored("", media_id, data)
        return media_id

    def has_media(self, app_id: str, media_id: str) -> bool:
        return self.media(media_id) is not None

    def media(self, media_id: str) -> bytes | None:
        path = self.media_dir / media_id
        return path.read_bytes() if MEDIA_ID.match(media_id) and path.exists() else None
