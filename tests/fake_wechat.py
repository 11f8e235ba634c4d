"""A local fake of WeChat's HTTP API: the documented paths, bodies and error codes (FACTS.md §2–4).

It is the only fake in the suite: the protocol the demo's stand-in speaks (bridge/demo/wechat_api.py),
served over real HTTP, with test controls on top: it can be told to fail the next calls on a
path with a given errcode or to answer slowly, and every call is recorded.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from bridge.demo.wechat_api import (
    ERRMSG,
    TOKEN_PATHS,
    Call,
    WeChatServer,
    multipart_files,
)

__all__ = ["ERRMSG", "FakeWeChat", "fake_wechat"]


class FakeWeChat(WeChatServer):
    def __init__(self):
        super().__init__()
        self.calls: list[Call] = []
        self.failures: dict[str, list[int]] = {}
        self.delays: dict[str, float] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- test controls -----------------------------------------------------------------------

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
        return sum(c.path in TOKEN_PATHS for c in self.calls)

    def scripted(self, call: Call) -> int | None:
        """Every call is recorded; a failure told by fail_next answers instead of the protocol."""
        self.calls.append(call)
        pending = self.failures.get(call.path)
        return pending.pop(0) if pending else None

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
