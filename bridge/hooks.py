"""The channels' webhook URLs: a few lines each, all the work is in the adapter and pipeline."""
from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request

from adapters import HOOK_KINDS, adapter_class
from bridge import db, webhook
from bridge.messaging import HookRequest

bp = Blueprint("hooks", __name__)


@bp.route("/hooks/<segment>/<channel_key>", methods=["GET", "POST"])
def channel_hook(segment: str, channel_key: str) -> Response:
    kind = HOOK_KINDS.get(segment)
    cache = current_app.extensions["channel_cache"]
    channel = cache.channel(db.new_session, channel_key) if kind else None
    if channel is None or channel.kind != kind:
        abort(404)
    adapter = adapter_class(kind)(channel, max_age=current_app.config["SIGNATURE_MAX_AGE"])
    request.max_content_length = current_app.config["WEBHOOK_MAX_BYTES"]
    req = HookRequest(method=request.method, args=request.args.to_dict())
    answer = webhook.handle(db.hook_engine(), db.new_session, cache, channel, adapter, req,
                            read_body=lambda: request.get_data(cache=False))
    return Response(answer.body, status=answer.status, content_type=answer.content_type)
