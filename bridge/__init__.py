"""kefu-bridge: the customer-service bridge for shops on WeChat.

Importing the package imports nothing else (adapters import the channel contract from it
without Flask); `create_app` builds the app: defaults → environment → test overrides.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flask import Flask


def create_app(test_config: dict | None = None) -> Flask:
    from flask import Flask

    from bridge import cli, config, logs, web
    from bridge.channels.cache import ChannelCache
    from bridge.events import publish, slots
    from bridge.infra import db, redisconn, tasks
    from bridge.media import store

    app = Flask(__name__, instance_relative_config=True)
    app.config.from_mapping(config.load(app.instance_path, test_config))
    app.json.ensure_ascii = False  # Chinese stays readable in every JSON answer
    logs.configure(app.config["LOG_LEVEL"])
    db.init_app(app)
    app.extensions["channel_cache"] = ChannelCache(app.config["CHANNEL_CACHE_SECONDS"])
    redisconn.init_app(app)
    publish.init_app(app)
    slots.init_app(app)
    tasks.init_app(app)
    store.init_app(app)
    web.init_app(app)
    cli.init_app(app)
    return app
