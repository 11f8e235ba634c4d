"""A shopper's media from WeChat (FACTS.md §3): GET /cgi-bin/media/get with the push's MediaId.

The same for an Official Account and a Mini Program: each calls it with its own app's token.
WeChat answers the file itself (its type in Content-Type, its name in Content-Disposition),
a video as JSON naming where the file is ({"video_url"}), and an error as JSON with its code:
40007 (an invalid or expired media id, kept 3 days) is final, -1 and 5xx are retried.
"""
from __future__ import annotations

from adapters.wechat.api import WeChatAPI
from bridge.channels.contract import FetchedMedia, SendRefused

GET_PATH = "/cgi-bin/media/get"


def fetch(api: WeChatAPI, media_id: str, max_bytes: int) -> FetchedMedia:
    body = api.download(GET_PATH, {"media_id": media_id}, max_bytes)
    if "content" not in body:
        url = body.get("video_url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise SendRefused("bad_response", "WeChat answered neither a file nor a video_url")
        body = api.fetch(url, None, max_bytes)
        if "content" not in body:
            raise SendRefused(str(body.get("errcode") or "bad_response"),
                              str(body.get("errmsg") or "the video's URL answered no file")[:300])
    return FetchedMedia(content=body["content"], content_type=body["content_type"])
