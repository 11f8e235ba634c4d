"""WeChat's HTTP API as its documentation describes it (paths, bodies, error codes), played by
the bridge itself: for the demo's sandbox channels and, with test controls on top, for the
tests (tests/fake_wechat.py). Never in front of a real channel.

It issues and checks access tokens as WeChat does (tokens expire; the stable token is the same
until forced or near its end), validates customer-service message bodies and keeps uploaded
images. What a subclass wants to know of a call it learns through the hooks at the end.
"""
from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP

TOKEN_SECONDS = 7200
ERRMSG = {
    -1: "system error", 40001: "invalid credential, access_token is invalid or not latest",
    40003: "invalid openid", 40004: "invalid media type", 40007: "invalid media_id",
    40013: "invalid appid", 40014: "invalid access_token", 40125: "invalid appsecret",
    42001: "access_token expired", 44002: "empty post data", 45011: "api minute-quota reach limit",
    45015: "response out of time limit or subscription is canceled",
    45047: "out of response count limit", 47001: "data format error", 48001: "api unauthorized",
    45072: "command field value is invalid", 45080: "typing is allowed only 30 s after the user's last message",
    45081: "you are already typing", 40037: "invalid template_id", 43004: "require subscribe",
    43101: "user refuse to accept the msg",
}
SEND_TYPES = {"text": ("content",), "image": ("media_id",), "voice": ("media_id",),
              "video": ("media_id",), "news": ("articles",), "mpnews": ("media_id",),
              "msgmenu": ("list",), "wxcard": ("card_id",), "miniprogrampage": ("pagepath", "thumb_media_id"),
              "link": ("title", "url", "thumb_url")}
TOKEN_PATHS = ("/cgi-bin/token", "/cgi-bin/stable_token")
# An OA's template messages and a Mini Program's subscribe messages (FACTS.md §2).
TEMPLATE_PATHS = ("/cgi-bin/message/template/send", "/cgi-bin/message/subscribe/send")
# The typing indicator: an Official Account's, a Mini Program's (FACTS.md §2, §3).
TYPING_PATHS = ("/cgi-bin/message/custom/typing", "/cgi-bin/message/custom/business/typing")


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


def error(code: int) -> dict:
    return {"errcode": code, "errmsg": ERRMSG.get(code, "error")}


class WeChatServer:
    def __init__(self) -> None:
        self.apps: dict[str, str] = {}  # app id → secret
        self.tokens: dict[str, tuple[str, float]] = {}  # token → (app id, expires at)
        self.current: dict[str, str] = {}  # app id → its latest token
        self.lock = threading.Lock()

    def register_app(self, app_id: str, secret: str) -> None:
        self.apps[app_id] = secret

    def handle(self, call: Call) -> dict:
        """WeChat's answer to one call."""
        with self.lock:
            scripted = self.scripted(call)
            if scripted is not None:
                return error(scripted)
            if call.path == "/cgi-bin/token":
                app_id = call.query.get("appid")
                bad = self._check_app(app_id, call.query.get("secret"))
                return bad or self._token_answer(self.issue_token(app_id, fresh=True))
            if call.path == "/cgi-bin/stable_token":
                body = call.json or {}
                bad = self._check_app(body.get("appid"), body.get("secret"))
                return bad or self._token_answer(self.issue_token(body["appid"], bool(body.get("force_refresh"))))
            app_id, code = self.token_owner(call.query.get("access_token"))
            if app_id is None:
                return error(code)
            if call.path == "/cgi-bin/message/custom/send":
                return self._send(app_id, call.json)
            if call.path == "/cgi-bin/media/upload":
                return self._upload(app_id, call)
            if call.path in TYPING_PATHS:
                return self._typing(call.json)
            if call.path in TEMPLATE_PATHS:
                return self._template(app_id, call.json)
            return {"errcode": 404, "errmsg": "unknown path"}

    # -- tokens (a subclass may keep them elsewhere) ---------------------------------------------

    def app_secret(self, app_id: str | None) -> str | None:
        return self.apps.get(app_id or "")

    def issue_token(self, app_id: str, fresh: bool) -> tuple[str, float]:
        """(token, expires at): the current one unless FRESH or within 5 minutes of its end."""
        token = self.current.get(app_id)
        if fresh or token is None or self.tokens[token][1] - time.time() < 300:
            token = secrets.token_urlsafe(48)
            self.tokens[token] = (app_id, time.time() + TOKEN_SECONDS)
            self.current[app_id] = token
        return token, self.tokens[token][1]

    def token_owner(self, token: str | None) -> tuple[str | None, int]:
        """(the app id the token was issued to, 0), or (None, WeChat's errcode)."""
        entry = self.tokens.get(token or "")
        if entry is None:
            return None, 40001
        if entry[1] < time.time():
            return None, 42001
        return entry[0], 0

    # -- protocol ------------------------------------------------------------------------------

    def _check_app(self, app_id: str | None, secret: str | None) -> dict | None:
        known = self.app_secret(app_id)
        if known is None:
            return error(40013)
        if not secrets.compare_digest(known.encode(), (secret or "").encode()):
            return error(40125)
        return None

    @staticmethod
    def _token_answer(issued: tuple[str, float]) -> dict:
        return {"access_token": issued[0], "expires_in": max(0, int(issued[1] - time.time()))}

    def _send(self, app_id: str, body: dict | None) -> dict:
        if not body:
            return error(44002)
        msgtype = body.get("msgtype")
        if not body.get("touser"):
            return error(40003)
        keys = SEND_TYPES.get(msgtype)
        payload = body.get(msgtype)
        if keys is None or not isinstance(payload, dict) or any(not payload.get(k) for k in keys):
            return error(47001)
        if msgtype == "image" and not self.has_media(app_id, payload["media_id"]):
            return error(40007)
        self.delivered(app_id, body)
        return {"errcode": 0, "errmsg": "ok"}

    def _template(self, app_id: str, body: dict | None) -> dict:
        """An OA template message or a Mini Program subscribe message: a template id, the
        shopper, and data fields each {"value"} (40037: no template id; 47001: a bad field)."""
        if not body:
            return error(44002)
        if not body.get("touser"):
            return error(40003)
        if not body.get("template_id"):
            return error(40037)
        data = body.get("data")
        if not isinstance(data, dict) or any(not isinstance(v, dict) or "value" not in v for v in data.values()):
            return error(47001)
        self.delivered(app_id, {**body, "msgtype": "template"})
        return {"errcode": 0, "errmsg": "ok", "msgid": secrets.randbelow(2**62)}

    @staticmethod
    def _typing(body: dict | None) -> dict:
        if not body:
            return error(44002)
        if not body.get("touser") or body.get("command") not in ("Typing", "CancelTyping"):
            return error(40003 if not body.get("touser") else 45072)
        return {"errcode": 0, "errmsg": "ok"}

    def _upload(self, app_id: str, call: Call) -> dict:
        if call.query.get("type") != "image" or not call.files.get("media"):
            return error(40004)
        media_id = "MEDIA_" + secrets.token_hex(12)  # WeChat's are longer; the bridge treats them as opaque
        self.stored(app_id, media_id, call.files["media"])
        return {"type": "image", "media_id": media_id, "created_at": int(time.time())}

    # -- hooks ----------------------------------------------------------------------------------

    def scripted(self, call: Call) -> int | None:
        """An errcode to answer instead of the protocol (tests script failures here)."""
        return None

    def delivered(self, app_id: str, body: dict) -> None:
        """A customer-service message WeChat accepted: it is on its way to the shopper."""

    def stored(self, app_id: str, media_id: str, data: bytes) -> None:
        """An uploaded image, kept under its media id."""

    def has_media(self, app_id: str, media_id: str) -> bool:
        return True
