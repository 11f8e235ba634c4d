"""What every widget call checks first: the channel (a widget channel that is enabled), the
calling page's origin (the channel's allowed_origins), and the shopper's token.

CORS: the widget runs on the shop's pages and calls the bridge from there. The answer allows
the calling origin when the channel allows it, never with credentials (the widget sends its
token in a header, no cookie), and only the methods and headers the widget uses. A request
from an origin the channel does not allow is refused before anything else; one without an
Origin header (a server, curl) is not a browser's, and no origin check can bind it.
"""
from __future__ import annotations

from typing import Protocol

from flask import Response, current_app, g, request

from bridge.channels.contract import Adapter, ChannelConfig, RequestRejected
from bridge.channels.runtime import adapter_for
from bridge.infra import db
from bridge.web.api.errors import APIError


class Shopper(Protocol):
    """Who a widget call is from, as the widget adapter says (adapters/widget/identity.py)."""

    shopper_id: str  # the customer's external id: v_… (anonymous) or u_<the shop's user id>
    name: str  # the name the shop's page gave, shown to agents ("" for none)
    identified: bool


ALLOWED_HEADERS = "Authorization, Content-Type, Last-Event-ID"
PREFLIGHT_SECONDS = 600


def channel_of(channel_key: str) -> ChannelConfig:
    cache = current_app.extensions["channel_cache"]
    channel = cache.channel(db.new_session, channel_key)
    if channel is None or channel.kind != "widget":
        raise APIError(404, "not_found", "no such widget")
    return channel


def origin_allowed(channel: ChannelConfig, origin: str | None) -> bool:
    allowed = channel.settings.get("allowed_origins") or []
    return origin is None or not allowed or origin in allowed


def check_origin(channel: ChannelConfig) -> None:
    if not origin_allowed(channel, request.headers.get("Origin")):
        raise APIError(403, "origin_not_allowed", "this widget does not run on this site")


def cors(response: Response) -> Response:
    """The CORS headers for the calling origin, where its channel allows it."""
    origin = request.headers.get("Origin")
    channel = g.get("widget_channel")
    response.headers.add("Vary", "Origin")
    if origin and channel is not None and origin_allowed(channel, origin):
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST"
            response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
            response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_SECONDS)
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
    return response


def adapter() -> Adapter:
    """The request's widget adapter (adapters/widget/adapter.py): who shoppers are, their feeds."""
    if "widget_adapter" not in g:
        g.widget_adapter = adapter_for(current_app, g.widget_channel)
    return g.widget_adapter


def refused(exc: RequestRejected) -> APIError:
    return APIError(exc.status, getattr(exc, "code", "refused"), exc.reason)


def visitor(channel: ChannelConfig, token_in_query: bool = False) -> Shopper:
    """The shopper the call's token was issued to (a Visitor: shopper_id, name, identified);
    401 for none or a forged one. The token comes in the Authorization header; TOKEN_IN_QUERY:
    also as ?token= (the event stream, for an EventSource, which cannot set headers) — nowhere
    else, as a URL's query ends up in access logs."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else \
        request.args.get("token") if token_in_query else None
    try:
        who = adapter().visitor_of(token)
    except RequestRejected as exc:
        raise refused(exc)
    if channel.settings.get("require_identity") and not who.identified:
        raise APIError(403, "identity_required", "this shop's chat is for its logged-in customers")
    return who


def address() -> str:
    return request.remote_addr or ""
