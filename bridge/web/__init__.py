"""The web faces, one blueprint each with its own error handlers: the channels' webhooks and
the agent API (the inbox and the widget come next)."""
from __future__ import annotations

from flask import Flask, Response, request
from flask.sessions import SessionInterface
from werkzeug.exceptions import HTTPException

from bridge.demo import views as demo
from bridge.web import api, hooks

FACES = (hooks, api, demo)


class NoCookieSessions(SessionInterface):
    """Agents sign in with bearer tokens and WeChat with signatures: nothing uses Flask's
    cookie session, so no request opens (and verifies the signature of) one."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response) -> None:
        return None


def init_app(app: Flask) -> None:
    app.session_interface = NoCookieSessions()
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
