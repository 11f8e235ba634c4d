"""The embedded default: web server threads and the worker in one process (make run)."""
from __future__ import annotations

import json
import threading
from pathlib import Path

import click
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from bridge.channels import registry
from bridge.demo import data as demo_data
from bridge.demo import pushes
from bridge.infra import db
from bridge.models import Channel, Shop
from bridge.processes.worker import run_worker


def run_embedded(app: Flask, host: str, port: int, demo_file: str | None) -> None:
    if demo_file:  # the demo: this server plays WeChat for the sandbox channels (bridge/demo)
        app.config["DEMO_URL"] = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        loaded = demo_data.load(app, Path(demo_file), app.config["DEMO_URL"], page_base(app.config["DEMO_URL"]))
        if loaded:
            click.echo(f"Demo shop data: {loaded} products, orders and coupons loaded ({demo_data.FILE_NAME})")
    server = make_server(host, port, app, threaded=True)
    threading.Thread(target=server.serve_forever, name="web", daemon=True).start()
    click.echo(banner(app, f"http://{host}:{port}", demo_file))
    try:
        run_worker(app)  # main thread: RQ installs signal handlers
    finally:
        server.shutdown()


def page_base(base: str) -> str:
    """BASE as the demo shop page is opened: at localhost when the bridge is at 127.0.0.1."""
    return base.replace("://127.0.0.1:", "://localhost:", 1)


def banner(app: Flask, base: str, demo_file: str | None) -> str:
    """What `make run` prints: the inbox and its logins first (where a person starts), then
    the demo shopper's page, the webhooks and the API."""
    demo = Path(demo_file) if demo_file else None
    shops = json.loads(demo.read_text(encoding="utf-8"))["shops"] if demo and demo.exists() else []
    lines = ["", "kefu-bridge is running (embedded: SQLite + in-process Redis, web + worker)", "",
             "Agent inbox: open it in a browser and log in", f"  {base}/inbox/"]
    if shops:
        lines.append("Demo logins (shop / username / password):")
        lines += [f"  {shop['key']} / {agent['username']} / {agent['password']}  ({agent.get('role', 'agent')})"
                  for shop in shops for agent in shop.get("agents", [])]
    lines.append("")
    with db.new_session(app) as session:
        sandboxes = [ch.key for ch in session.scalars(select(Channel).where(Channel.enabled.is_(True))
                                                     .order_by(Channel.id))
                     if (ch.settings or {}).get("sandbox") and ch.kind in pushes.KINDS]
        if app.config.get("DEMO_URL") and sandboxes:
            lines.append("Demo shopper: a simulated WeChat — write as a shopper, see all the shop sends")
            lines += [f"  {base}/demo/shopper/{key}" for key in sandboxes]
            lines.append("")
        widgets = [ch.key for ch in session.scalars(select(Channel).where(Channel.enabled.is_(True),
                                                                         Channel.kind == "widget")
                                                   .order_by(Channel.id))]
        if app.config.get("DEMO_URL") and widgets:
            # localhost, not 127.0.0.1: the page is then another origin than the bridge, as a shop's site is
            lines.append("Demo shop page: the web widget on a shop's page — chat as a shopper there")
            lines += [f"  {page_base(base)}/demo/shop/{key}" for key in widgets]
            lines.append("")
        for shop in session.scalars(select(Shop).order_by(Shop.id)):
            lines.append(f"Shop {shop.key!r} ({shop.name})")
            for ch in session.scalars(select(Channel).where(Channel.shop_id == shop.id,
                                                            Channel.enabled.is_(True))):
                kind = registry.KINDS.get(ch.kind)
                if kind is not None and registry.served(kind.segment) is kind:
                    lines.append(f"  {ch.kind:10} {base}/hooks/{kind.segment}/{ch.key}")
                elif ch.kind == "widget":
                    lines.append(f"  {ch.kind:10} {base}/widget/{ch.key}/widget.js")
    lines += ["", f"Agent API   {base}/api/v1  (POST /api/v1/auth/login, the same logins)"]
    tryable = next((c for s in shops for c in s.get("channels", [])
                    if registry.KINDS.get(c["kind"]) and registry.KINDS[c["kind"]].simulator), None)
    if tryable:
        segment = registry.get(tryable["kind"]).segment
        lines.append("Try it:")
        lines.append(f"  .venv/bin/flask --app wsgi simulate {segment} {tryable['key']} demo-openid 发货 --url {base}")
    lines.append("")
    return "\n".join(lines)
