"""The agent JSON API, /api/v1 (DESIGN.md, Agent API)."""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from bridge.api import agents, auth, conversations, live, stats  # noqa: E402,F401  (routes register on bp)
