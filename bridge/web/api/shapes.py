"""The JSON shapes of the agent API (a conversation's and a message's are bridge/shapes.py's,
which the live events carry too), and strict request bodies."""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import request

from bridge.models import Agent
from bridge.shapes import iso
from bridge.web.api.errors import APIError


def json_body() -> dict[str, Any]:
    """The request's JSON object, or 400 naming what is wrong."""
    if not request.is_json:
        raise APIError(400, "bad_request", "the body must be JSON (Content-Type: application/json)")
    try:
        body = json.loads(request.get_data(cache=True) or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise APIError(400, "bad_request", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise APIError(400, "bad_request", "the body must be a JSON object")
    return body


def agent_json(agent: Agent, presence: str, last_seen_at: datetime | None) -> dict[str, Any]:
    """PRESENCE (accounts/presence.py): present, or away — its clients have gone quiet, so an
    agent online in name takes no new shoppers."""
    return {"id": agent.id, "username": agent.username, "name": agent.name, "role": agent.role,
            "status": agent.status, "presence": presence, "last_seen_at": iso(last_seen_at),
            "max_concurrent": agent.max_concurrent, "weight": agent.weight}
