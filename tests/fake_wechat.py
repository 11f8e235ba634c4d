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
    error,
    multipart_files,
)

__all__ = ["ERRMSG", "FakeWeChat", "fake_wechat"]

MEDIA_GET = "/cgi-bin/media/get"
VIDEO_FILES = "/video-files/"  # where a video's media/get answer sends the caller (its video_url)
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "audio/amr": "amr", "video/mp4": "mp4"}


class FakeWeChat(WeChatServer):
    def __init__(self):
        super().__init__()
        self.calls: list[Call] = []
        self.failures: dict[str, list[int]] = {}
        self.delays: dict[str, float] = {}
        self.http_failures: dict[str, list[int]] = {}
        self.media: dict[str, tuple[bytes, str]] = {}  # a shopper's files WeChat keeps: media id → (bytes, type)
        self.uploaded: dict[str, set[str]] = {}  # app id → the media ids of its uploads (its own: FACTS.md §3)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    # -- test controls -----------------------------------------------------------------------

    def fail_next(self, path: str, errcode: int, times: int = 1) -> None:
        self.failures.setdefault(path, []).extend([errcode] * times)

    def fail_http(self, path: str, status: int, times: int = 1) -> None:
        """The next calls on PATH answer this HTTP status (a 5xx: a gateway's HTML page)."""
        self.http_failures.setdefault(path, []).extend([status] * times)

    def keep_media(self, media_id: str, content: bytes, content_type: str) -> None:
        """A file a shopper sent: media/get hands it out under MEDIA_ID."""
        self.media[media_id] = (content, content_type)

    def media_fetches(self, media_id: str | None = None) -> int:
        return sum(c.path == MEDIA_GET and (media_id is None or c.query.get("media_id") == media_id)
                   for c in self.calls)

    def media_get(self, call: Call) -> tuple[int, dict[str, str], bytes]:
        """GET /cgi-bin/media/get: the file with its type and name, as WeChat answers it; a video
        as {"video_url"}; an error as JSON with its code (40007: no such media id, or expired)."""
        with self.lock:
            failing = self.http_failures.get(call.path)
            if failing:
                self.calls.append(call)
                return failing.pop(0), {"Content-Type": "text/html"}, b"<html><body>502 Bad Gateway</body></html>"
            scripted = self.scripted(call)
            app_id, code = self.token_owner(call.query.get("access_token"))
            if scripted is None and app_id is None:
                scripted = code
            entry = self.media.get(call.query.get("media_id", ""))
            if scripted is None and entry is None:
                scripted = 40007
        if scripted is not None:
            return 200, {"Content-Type": "application/json; encoding=utf-8"}, json.dumps(error(scripted)).encode()
        content, content_type = entry
        if content_type.startswith("video/"):
            url = f"{self.url}{VIDEO_FILES}{call.query['media_id']}"
            return 200, {"Content-Type": "application/json"}, json.dumps({"video_url": url}).encode()
        name = f"{call.query['media_id']}.{EXTENSIONS.get(content_type, 'bin')}"
        return 200, {"Content-Type": content_type, "Content-Disposition": f'attachment; filename="{name}"'}, content

    def video_file(self, media_id: str) -> tuple[int, dict[str, str], bytes]:
        entry = self.media.get(media_id)
        if entry is None:
            return 404, {"Content-Type": "text/html"}, b"not found"
        return 200, {"Content-Type": entry[1]}, entry[0]

    def stored(self, app_id: str, media_id: str, data: bytes) -> None:
        self.uploaded.setdefault(app_id, set()).add(media_id)

    def has_media(self, app_id: str, media_id: str) -> bool:
        """A media id is the uploading app's: another app sending it gets 40007."""
        return media_id in self.uploaded.get(app_id, ())

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
                if parts.path == MEDIA_GET:
                    return self._answer(*fake.media_get(call))
                if parts.path.startswith(VIDEO_FILES):
                    return self._answer(*fake.video_file(parts.path[len(VIDEO_FILES):]))
                self._answer(200, {"Content-Type": "application/json"}, json.dumps(fake.handle(call)).encode())

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                self.send_response(status)
                for name, value in {**headers, "Content-Length": str(len(body))}.items():
                    self.send_header(name, value)
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
