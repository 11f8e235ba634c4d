"""The shop-page chat widget's face, /widget/<channel_key>/… (docs/widget.md): public, so every
call is checked for its channel, its page's origin and its shopper, limited, and size-capped."""
from __future__ import annotations

from flask import Blueprint, Response, g, request

from bridge.web.api import errors
from bridge.web.api.errors import APIError
from bridge.web.widget import browsing, guard, live, views

bp = Blueprint("widget", __name__, url_prefix="/widget")
for view in (views, live, browsing):
    bp.register_blueprint(view.bp)
errors.register(bp)
URL_SPACE = "/widget"


@bp.before_request
def _channel_and_origin() -> Response | None:
    key = (request.view_args or {}).get("channel_key")
    if key is None:
        return None
    try:
        g.widget_channel = guard.channel_of(key)
        if not request.path.endswith(("/widget.js", "/widget.css")):
            guard.check_origin(g.widget_channel)
    except APIError as exc:
        return errors.json_error(exc.status, exc.code, exc.message)
    return None


@bp.after_request
def _cors(response: Response) -> Response:
    return guard.cors(response)


def render_unrouted(exc) -> Response:
    return guard.cors(errors.http_error(exc))
