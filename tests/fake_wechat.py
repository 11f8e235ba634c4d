"""A local fake of WeChat's HTTP API: the documented paths, bodies and error codes (FACTS.md §2–4).

It is the only fake in the suite. It issues and checks access tokens like WeChat (tokens expire; the stable
token is idempotent until forced or near its end, as WeChat documents), validates
customer-service message bodies, accepts image uploads, and can be told to fail the next
calls on a path with a given errcode or to answer slowly. Every call is recorded.
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

ERRMSG = {
    -1: "system error", 40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid", 40004: "invalid media type", 40013: "invalid appid",
    40014: "invalid access_token", 40125: "invalid appsecret", 42001: "access_token expired",
    44002: "empty post data", 45011: "api minute-quota reach limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit", 47001: "data format error", 48001: "api unauthorized",
}
SEND_TYPES = {"text": ("content",), "image": ("media_id",), "voice": ("media_id",),
              "video": ("media_id",), "news": ("articles",), "mpnews": ("media_id",),
              "msgmenu": ("list",), "wxcard": ("card_id",), "miniprogrampage": ("pagepath",)}


@dataclass
class Call:
    method: str
    path: str
    query: dict[str, str]
    json: dict | None = None
    files: dict[str, bytes] = field(default_factory=dict)


def multipart_files(content_type: str, raw: bytes) -> dict[str, bytes]:
    """The file parts of a multipart/form-data body, by field name."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw)
    return {part.get_param("name", header="content-disposition"): part.get_payload(decode=True)
            for part in message.iter_parts() if part.get_filename()}


class FakeWeChat:
    def __init__(self):
        self.apps: dict[str, str] = {}
        self.tokens: dict[str, tuple[str, float]] = {}  # token → (appid, expires_at)
        self.current: dict[str, str] = {}  # appid → its latest token
        self.calls: list[Call] = []
        self.failures: dict[str, list[int]] = {}
        self.delays: dict[str, float] = {}
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- test controls -----------------------------------------------------------------------

    def register_app(self, app_id: str, secret: str) -> None:
        self.apps[app_id] = secret

    def fail_next(self, path: str, errcode: int, times: int = 1) -> None:
        self.failures.setdefault(path, []).extend([errcode] * times)

    def slow(self, path: str, seconds: float) -> None:
        self.delays[path] = seconds

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens = {t: (a, 0.0) for t, (a, _) in self.tokens.items()}

    def sent(self, touser: str | None = None) -> list[dict]:
        return [c.json for c in self.calls if c.path == "/cgi-bin/message/custom/send"
                and c.json is not None and (touser is None or c.json.get("touser") == touser)]

    def token_fetches(self) -> int:
        return sum(c.path in ("/cgi-bin/token", "/cgi-bin/stable_token") for c in self.calls)

    # -- protocol ----------------------------------------------------------------------------

    def _new_token(self, app_id: str) -> str:
        token = secrets.token_urlsafe(48)
        self.tokens[token] = (app_id, time.time() + 7200)
        self.current[app_id] = token
        return token

    def _check_app(self, app_id: str | None, secret: str | None) -> dict | None:
        if app_id not in self.apps:
            return self._err(40013)
        if self.apps[app_id] != secret:
            return self._err(40125)
        return None

    def _check_token(self, token: str | None) -> dict | None:
        entry = self.tokens.get(token or "")
        if entry is None:
            return self._err(40001)
        if entry[1] < time.time():
            return self._err(42001)
        return None

    @staticmethod
    def _err(code: int) -> dict:
        return {"errcode": code, "errmsg": ERRMSG.get(code, "error")}

    def handle(self, call: Call) -> dict:
        with self.lock:
            self.calls.append(call)
            scripted = self.failures.get(call.path)
            if scripted:
                return self._err(scripted.pop(0))
            if call.path == "/cgi-bin/token":
                bad = self._check_app(call.query.get("appid"), call.query.get("secret"))
                return bad or {"access_token": self._new_token(call.query["appid"]), "expires_in": 7200}
            if call.path == "/cgi-bin/stable_token":
                body = call.json or {}
                bad = self._check_app(body.get("appid"), body.get("secret"))
                if bad:
                    return bad
                token = self.current.get(body["appid"])
                if body.get("force_refresh") or token is None or self.tokens[token][1] - time.time() < 300:
                    token = self._new_token(body["appid"])
                return {"access_token": token, "expires_in": int(self.tokens[token][1] - time.time())}
            bad = self._check_token(call.query.get("access_token"))
            if bad:
                return bad
            if call.path == "/cgi-bin/message/custom/send":
                return self._send(call.json)
            if call.path == "/cgi-bin/media/upload":
                if call.query.get("type") != "image" or "media" not in call.files:
                    return self._err(40004)
                return {"type": "image", "media_id": "MEDIA_" + secrets.token_hex(8),
                        "created_at": int(time.time())}
            return {"errcode": 404, "errmsg": "unknown path"}

    def _send(self, body: dict | None) -> dict:
        if not body:
            return self._err(44002)
        msgtype = body.get("msgtype")
        if not body.get("touser"):
            return self._err(40003)
        keys = SEND_TYPES.get(msgtype)
        payload = body.get(msgtype)
        if keys is None or not isinstance(payload, dict) or any(not payload.get(k) for k in keys):
            return self._err(47001)
        return {"errcode": 0, "errmsg": "ok"}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _serve(self, method: str):
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                call = Call(method, parts.path, query)
                ctype = self.headers.get("Content-Type", "")
                if ctype.startswith("multipart/form-data"):
                    call.files = multipart_files(ctype, raw)
                elif raw:
                    try:
                        call.json = json.loads(raw)
                    except ValueError:
                        call.json = None
                delay = fake.delays.get(parts.path)
                if delay:
                    time.sleep(delay)
                body = json.dumps(fake.handle(call)).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._serve("GET")

            def do_POST(self):
                self._serve("POST")

        return Handler

    def start(self) -> FakeWeChat:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_wechat():
    """A running fake WeChat API with the test shops' apps registered."""
    fake = FakeWeChat().start()
    for app_id, secret in (("wx00000000000000a1", "secret-a1"), ("wx2c2769f8efd9abc2", "secret-safe"),
                           ("wx00000000000000b2", "secret-b2")):
        fake.register_app(app_id, secret)
    yield fake
    fake.stop()
