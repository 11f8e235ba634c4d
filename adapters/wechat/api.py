"""WeChat's HTTP API: one access token per app shared through Redis, codes mapped to what to do.

wechatpy's client is not used for calls: it fetches tokens without a lock or a timeout and
retries token errors without a cap (FACTS.md §5). Every call here has a timeout, a token
error refreshes once and retries once, and the refresh is done by one process at a time.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

import redis
import requests

from bridge.channels.contract import (
    CapReached,
    ChannelRuntime,
    RetryLater,
    SendFailed,
    SendRefused,
    WindowClosed,
)

log = logging.getLogger(__name__)

TOKEN_INVALID = {40001, 40014, 42001}
# What each code tells the bridge to do next (FACTS.md §2); any other code is final.
OUTCOMES: dict[int, type[SendFailed]] = {
    -1: RetryLater,  # system busy
    45011: RetryLater,  # per-minute quota
    45015: WindowClosed,  # over 48 hours since the shopper's last message, or unfollowed
    45047: CapReached,  # this shopper message's count of customer-service messages is spent
}
TOKEN_EARLY_REFRESH = 300  # seconds before WeChat's expiry we stop using a token
LOCK_SECONDS = 15
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class WeChatAPI:
    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_secret: str,
        redis_client: redis.Redis,
        key_prefix: str,
        http: requests.Session | None = None,
        timeout: float = 5.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.app_id = app_id
        self.app_secret = app_secret
        self.redis = redis_client
        self.token_key = f"{key_prefix}:wechat:{app_id}:access_token"
        self.lock_key = f"{key_prefix}:wechat:{app_id}:token_lock"
        self.http = http or requests.Session()
        self.timeout = timeout

    @classmethod
    def for_app(cls, app_id: str, app_secret: str, runtime: ChannelRuntime) -> WeChatAPI:
        """The client of one app, on what the bridge hands an adapter."""
        return cls(runtime.settings["WECHAT_API_BASE"], app_id, app_secret, runtime.redis,
                   key_prefix=runtime.key_prefix, http=runtime.http,
                   timeout=runtime.settings["WECHAT_HTTP_TIMEOUT"])

    # -- calls ---------------------------------------------------------------------------

    def post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        return self._with_token(lambda token: self._request("POST", path, token, json=payload))

    def upload(self, path: str, params: dict[str, str], files: dict[str, Any]) -> dict[str, Any]:
        return self._with_token(
            lambda token: self._request("POST", path, token, params=params, files=files)
        )

    def download(self, path: str, params: dict[str, str], max_bytes: int) -> dict[str, Any]:
        """A file the API answers with (media/get): {"content", "content_type"}. A JSON answer is
        an error by its code, or (a video) {"video_url"}. Over MAX_BYTES: final, nothing kept."""
        return self._with_token(
            lambda token: self.fetch(self.base_url + path, {**params, "access_token": token}, max_bytes))

    def fetch(self, url: str, params: dict[str, str] | None, max_bytes: int) -> dict[str, Any]:
        """GET a file, read no further than MAX_BYTES; a JSON or plain-text answer as its object."""
        try:
            with self.http.get(url, params=params, timeout=self.timeout, stream=True) as resp:
                if resp.status_code >= 500:
                    raise RetryLater(f"http_{resp.status_code}", "server error")
                content_type = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if content_type in ("application/json", "text/plain"):  # WeChat's errors come so
                    return self._small_json(resp)
                if resp.status_code >= 400:
                    raise SendRefused(f"http_{resp.status_code}", "the file was refused")
                declared = resp.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise SendRefused("too_large", f"the file is {declared} bytes, over the {max_bytes} taken")
                chunks, total = [], 0
                for chunk in resp.iter_content(64 * 1024):
                    total += len(chunk)
                    if total > max_bytes:
                        raise SendRefused("too_large", f"the file is over the {max_bytes} bytes taken")
                    chunks.append(chunk)
        except requests.RequestException as exc:
            raise RetryLater("network", type(exc).__name__) from exc
        return {"errcode": 0, "content": b"".join(chunks), "content_type": content_type}

    @staticmethod
    def _small_json(resp: requests.Response) -> dict[str, Any]:
        raw = resp.raw.read(64 * 1024, decode_content=True)
        try:
            body = json.loads(raw)
        except ValueError as exc:
            raise RetryLater(f"http_{resp.status_code}", "not JSON") from exc
        if not isinstance(body, dict):
            raise RetryLater("bad_response", "not a JSON object")
        return body

    def _with_token(self, call) -> dict[str, Any]:
        token = self._token(self.access_token)
        body = call(token)
        if body.get("errcode") in TOKEN_INVALID:
            log.info("wechat app %s: token rejected (%s), refreshing once", self.app_id, body["errcode"])
            token = self._token(lambda: self._refresh(stale=token))
            body = call(token)
        self._raise_for(body)
        return body

    def _request(self, method: str, path: str, token: str, params=None, **kwargs) -> dict[str, Any]:
        params = {**(params or {}), "access_token": token}
        return self._http(method, path, params=params, **kwargs)

    def _http(self, method: str, path: str, **kwargs) -> dict[str, Any]:
        try:
            resp = self.http.request(method, self.base_url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise RetryLater("network", type(exc).__name__) from exc
        if resp.status_code >= 500:
            raise RetryLater(f"http_{resp.status_code}", "server error")
        try:
            body = resp.json()
        except ValueError as exc:
            raise RetryLater(f"http_{resp.status_code}", "not JSON") from exc
        if not isinstance(body, dict):
            raise RetryLater("bad_response", "not a JSON object")
        return body

    @staticmethod
    def _raise_for(body: dict[str, Any]) -> None:
        code = body.get("errcode", 0)
        if code in (0, None):
            return
        message = str(body.get("errmsg", ""))[:300]
        raise OUTCOMES.get(code, SendRefused)(str(code), message)

    # -- access token ------------------------------------------------------------------------

    @staticmethod
    def _token(get) -> str:
        """A token from the shared store; the store not answering is a retry, not a crash: no
        call to WeChat has been made, so the send is known not to have happened."""
        try:
            return get()
        except redis.RedisError as exc:
            raise RetryLater("token_store", f"the token store did not answer ({type(exc).__name__})") from exc

    def access_token(self) -> str:
        cached = self.redis.get(self.token_key)
        if cached:
            return cached.decode()
        return self._refresh(stale=None)

    def _refresh(self, stale: str | None) -> str:
        """Fetch a token once for all processes; the others wait for it to appear."""
        me = uuid.uuid4().hex
        deadline = time.monotonic() + self.timeout + LOCK_SECONDS
        while True:
            current = self.redis.get(self.token_key)
            if current and current.decode() != stale:
                return current.decode()
            if self.redis.set(self.lock_key, me, nx=True, ex=LOCK_SECONDS):
                try:
                    current = self.redis.get(self.token_key)
                    if current and current.decode() != stale:
                        return current.decode()
                    token, expires_in = self._fetch_token(force=stale is not None)
                    ttl = max(60, expires_in - TOKEN_EARLY_REFRESH)
                    self.redis.set(self.token_key, token, ex=ttl)
                    return token
                finally:
                    self.redis.eval(_RELEASE, 1, self.lock_key, me)
            if time.monotonic() > deadline:
                raise RetryLater("token_timeout", "waited too long for a token")
            time.sleep(0.05)

    def _fetch_token(self, force: bool) -> tuple[str, int]:
        """The stable token endpoint: idempotent, so a lost race costs nobody a token."""
        body = self._http(
            "POST",
            "/cgi-bin/stable_token",
            json={
                "grant_type": "client_credential",
                "appid": self.app_id,
                "secret": self.app_secret,
                "force_refresh": force,
            },
        )
        self._raise_for(body)
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise RetryLater("bad_response", "no access_token in answer")
        log.info("wechat app %s: fetched access token (force=%s)", self.app_id, force)
        return token, int(body.get("expires_in", 7200))
