"""The agent JSON API, /api/v1 (README, Agent API)."""
from flask import Blueprint

from bridge.web.api import errors

bp = Blueprint("api", __name__, url_prefix="/api/v1")
errors.register(bp)
render_unrouted = errors.http_error  # a URL under /api/v1 that names no call: JSON too

from bridge.web.api import agents, auth, conversations, live, stats  # noqa: E402,F401  (routes register on bp)
