"""The JSON shapes of the agent API (a conversation's and a message's are bridge/shapes.py's,
which the live events carry too), and strict request bodies and query arguments: what the
bridge could not store or read is a 4xx here, before any work (bridge/inputs.py)."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from bridge.inputs import unstorable_at, whole_number
from bridge.models import Agent
from bridge.shapes import iso
from bridge.web.api.errors import APIError

MAX_JSON_BODY = 64 * 1024  # a few fields; a reply's text is at most 2,000 characters


def json_body(max_bytes: int = MAX_JSON_BODY) -> dict[str, Any]:
    """The request's JSON object, every text in it storable, or 400 (413) naming what is wrong."""
    if not request.is_json:
        raise APIError(400, "bad_request", "the body must be JSON (Content-Type: application/json)")
    request.max_content_length = max_bytes
    try:
        body = json.loads(request.get_data(cache=True) or b"null", parse_constant=_not_json)
    except RequestEntityTooLarge:
        raise APIError(413, "too_large", f"the body is over {max_bytes // 1024} KB") from None
    except RecursionError:
        raise APIError(400, "bad_request", "the body is nested too deeply") from None
    except ValueError:  # not JSON, not UTF-8, or a number of over 4,300 digits
        raise APIError(400, "bad_request", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise APIError(400, "bad_request", "the body must be a JSON object")
    where = unstorable_at(body)
    if where is not None:
        raise APIError(400, "bad_request", f"{where[:80]} holds a NUL character or a lone surrogate")
    return body


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def int_arg(name: str, default: int | None, low: int, high: int) -> int | None:
    """The query argument NAME as a whole number from LOW to HIGH in ASCII digits, or 400."""
    raw = request.args.get(name)
    if raw is None:
        return default
    number = whole_number(raw, low, high)
    if number is None:
        raise APIError(400, "bad_request", f"{name} must be a whole number from {low} to {high}")
    return number


def agent_json(agent: Agent, presence: str, last_seen_at: datetime | None) -> dict[str, Any]:
    """PRESENCE (accounts/presence.py): present, or away — its clients have gone quiet, so an
    agent online in name takes no new shoppers."""
    return {"id": agent.id, "username": agent.username, "name": agent.name, "role": agent.role,
            "status": agent.status, "presence": presence, "last_seen_at": iso(last_seen_at),
            "max_concurrent": agent.max_concurrent, "weight": agent.weight}
