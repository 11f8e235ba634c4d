"""A widget call's JSON body: a small object, refused before it is read whole when too large."""
from __future__ import annotations

import json
from typing import Any

from flask import request

from bridge.web.api.errors import APIError

MAX_JSON = 16 * 1024


def json_body() -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_JSON:
        raise APIError(413, "too_large", f"a request body may be at most {MAX_JSON // 1024} KB")
    raw = request.get_data(cache=False)
    if len(raw) > MAX_JSON:
        raise APIError(413, "too_large", f"a request body may be at most {MAX_JSON // 1024} KB")
    if not raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise APIError(400, "bad_json", "the body is not JSON")
    if not isinstance(body, dict):
        raise APIError(400, "bad_json", "the body must be a JSON object")
    return body
