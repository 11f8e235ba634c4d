"""The web faces, one blueprint each with its own error handlers: the channels' webhooks, the
agent API, the agent inbox and the shop-page widget."""
from __future__ import annotations

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from bridge.demo import views as demo
from bridge.web import api, hooks, inbox, widget
from bridge.web.session import InboxSessions

FACES = (hooks, api, inbox, widget, demo)


def init_app(app: Flask) -> None:
    app.session_interface = InboxSessions()  # the inbox's cookie; no other face opens one
    for face in FACES:
        app.register_blueprint(face.bp)

    @app.errorhandler(HTTPException)
    def _unrouted(exc: HTTPException) -> Response:
        """A URL that matched no view reaches no blueprint's handler: the face that owns the
        URL's space renders it (JSON anywhere under /api), else plain text."""
        for face in FACES:
            if request.path == face.URL_SPACE or request.path.startswith(face.URL_SPACE + "/"):
                return face.render_unrouted(exc)
        return hooks.render_unrouted(exc)
