"""The channels' webhook URLs, /hooks/<segment>/<channel key>: a few lines, all the work is in
the adapter and the pipeline."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request
from werkzeug.exceptions import HTTPException

from bridge.channels import registry
from bridge.channels.contract import HookRequest
from bridge.channels.runtime import runtime
from bridge.infra import db
from bridge.ingest import webhook

bp = Blueprint("hooks", __name__, url_prefix="/hooks")
URL_SPACE = "/hooks"


@bp.route("/<segment>/<channel_key>", methods=["GET", "POST"])
def channel_hook(segment: str, channel_key: str) -> Response:
    kind = registry.served(segment)
    cache = current_app.extensions["channel_cache"]
    channel = cache.channel(db.new_session, channel_key) if kind else None
    if channel is None or channel.kind != kind.kind:
        abort(404)
    adapter = registry.adapter(channel, runtime(current_app, kind, channel.shop_id))
    request.max_content_length = kind.capabilities.max_body
    req = HookRequest(method=request.method, args=request.args.to_dict(), headers=dict(request.headers),
                      content_type=request.content_type or "")
    answer = webhook.handle(db.hook_engine(), db.new_session, cache, channel, kind.capabilities,
                            adapter, req, read_body=lambda: request.get_data(cache=False))
    return Response(answer.body, status=answer.status, content_type=answer.content_type)


def render_unrouted(exc: HTTPException) -> Response:
    """Plain text, as a platform's webhook caller expects: never an HTML page."""
    return Response(exc.name, status=exc.code, content_type="text/plain; charset=utf-8")


bp.register_error_handler(HTTPException, render_unrouted)
