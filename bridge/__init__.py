"""kefu-bridge: the customer-service bridge for shops on WeChat."""
from __future__ import annotations

import logging

from flask import Flask
from flask.sessions import SessionInterface


class NoCookieSessions(SessionInterface):
    """Agents sign in with bearer tokens and WeChat with signatures: nothing uses Flask's
    cookie session, so no request opens (and verifies the signature of) one."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response) -> None:
        return None


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    from bridge import config

    app.config.from_mapping(config.load(app.instance_path, test_config))
    app.session_interface = NoCookieSessions()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    from bridge import cli, web
    from bridge.channels.cache import ChannelCache
    from bridge.events import publish
    from bridge.infra import db, redisconn, tasks

    db.init_app(app)
    app.extensions["channel_cache"] = ChannelCache(app.config["CHANNEL_CACHE_SECONDS"])
    redisconn.init_app(app)
    publish.init_app(app)
    tasks.init_app(app)
    web.init_app(app)
    cli.init_app(app)
    return app
