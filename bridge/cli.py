"""Flask CLI: db, shops, shopdata, worker, simulate, embedded (DESIGN.md, CLI)."""
from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from bridge.channels import registry
from bridge.checks import ConfigError
from bridge.infra import db
from bridge.shopdata.cli import shopdata_cli
from bridge.shops.file import validate
from bridge.shops.load import apply

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

db_cli = AppGroup("db", help="Database schema (Alembic).")
shops_cli = AppGroup("shops", help="Shops, channels and agents from config files.")
simulate_cli = AppGroup("simulate", help="Post a message exactly as a channel would.")


def alembic_config(url: str):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the schema to REVISION (default: head)."""
    from alembic import command

    command.upgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
@click.option("--autogenerate", is_flag=True)
def db_revision(message: str, autogenerate: bool) -> None:
    """Write a new revision (review it before committing)."""
    from alembic import command

    command.revision(alembic_config(current_app.config["DATABASE_URL"]), message=message,
                     autogenerate=autogenerate)


@shops_cli.command("load")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def shops_load(path: str) -> None:
    """Create or update shops from FILE.json; all or nothing, idempotent; every error named at once."""
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path}: not valid JSON: {exc}") from None
    try:
        shops = validate(document)
        with db.new_session(current_app) as session:
            report = apply(session, shops, datetime.now(timezone.utc))
            session.commit()
    except ConfigError as exc:
        if len(exc.errors) == 1:
            raise click.ClickException(f"{path}: {exc}; nothing was loaded") from None
        raise click.ClickException(f"{path}: {len(exc.errors)} errors; nothing was loaded\n{exc}") from None
    current_app.extensions["channel_cache"].clear()
    for label, keys in (("created", report.created), ("updated", report.updated),
                        ("unchanged", report.unchanged)):
        if keys:
            click.echo(f"{label}: {', '.join(keys)}")


@shops_cli.command("export")
@click.argument("key")
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True),
              help="Write to this file instead of standard output.")
def shops_export(key: str, output: str | None) -> None:
    """Write shop KEY in the shop file's format; `shops load` of it changes nothing.

    Agents come with their password_hash (passwords are not kept); channel secrets as stored.
    """
    from bridge.shops.export import export

    try:
        with db.new_session(current_app) as session:
            document = export(session, key)
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        click.echo(text, nl=False)
        return
    # It holds the shop's secrets: a new file is for its owner's eyes only.
    with open(os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as f:
        f.write(text)
    click.echo(f"{key}: written to {output}", err=True)


def _simulate_command(kind: registry.ChannelKind) -> None:
    """`flask simulate <segment> CHANNEL_KEY OPENID [TEXT] [--kind …]` for a kind that has a simulator."""
    sim = kind.simulator
    fields = list(sim.FIELDS)

    def option(name: str) -> str:
        return "TEXT" if name == "text" else "--" + name.replace("_", "-")

    flags = getattr(sim, "FLAGS", {})

    def simulate(channel_key: str, openid: str, text: str | None, what: str, base_url: str | None,
                 mode: str, **given: str | bool | None) -> None:
        from bridge.channels.simulate import Unreachable, simulate

        if base_url is not None and not _http_url(base_url):
            raise click.UsageError(f"--url {base_url!r} must be http:// or https:// and a host")
        if what == "text" and text is None:
            raise click.UsageError("TEXT is required (or another --kind)")
        switches = {name: given.pop(name) for name in flags}
        pushed = {name: value for name, value in {"text": text, **given}.items() if value is not None}
        try:
            status, reply = simulate(current_app._get_current_object(), kind, channel_key, openid,
                                     what, pushed, base_url, mode, switches)
        except ValueError as exc:
            name, why = exc.args if len(exc.args) == 2 else ("kind", str(exc))
            raise click.UsageError(f"{option(name)} {why}; nothing was sent") from None
        except (LookupError, Unreachable) as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"HTTP {status}")
        click.echo(reply)
        if status != 200:
            sys.exit(1)

    for name in reversed(fields):
        simulate = click.option(option(name), name, help=sim.FIELDS[name])(simulate)
    for name, help_text in flags.items():
        simulate = click.option("--" + name, name, is_flag=True, help=help_text)(simulate)
    simulate = click.option("--mode", type=click.Choice(sim.MODES), default=sim.MODES[0],
                            help="Message encryption; auto = the channel's mode.")(simulate)
    simulate = click.option("--url", "base_url",
                            help="Post to this server (e.g. https://shop.example) instead of in-process.")(simulate)
    simulate = click.option("--kind", "what", type=click.Choice(list(sim.KINDS)), default="text",
                            show_default=True, help="What the shopper does.")(simulate)
    simulate = click.argument("text", required=False)(simulate)
    simulate = click.argument("openid")(simulate)
    simulate = click.argument("channel_key")(simulate)
    def takes(names: tuple[str, ...]) -> str:
        return ", ".join(option(n.rstrip("*")) + ("" if n.endswith("*") else " (optional)") for n in names)

    kinds = "\n".join(f"  {what:<9} {takes(names)}" for what, names in sim.KINDS.items())
    simulate_cli.command(kind.segment, help=(
        f"Sign and POST what a shopper does to {_article(kind.title)} {kind.title} channel as its platform would, and "
        "print the reply as the shopper reads it. TEXT is the message of the default --kind text; "
        f"the other kinds take these options instead:\n\n\b\n{kinds}\n\n"
        "A missing or bad option is a usage error (exit 2) and nothing is sent; a server that "
        "cannot be reached is one line on stderr (exit 1)."))(simulate)


def _article(noun: str) -> str:
    return "an" if noun[:1].lower() in "aeiou" else "a"


def _http_url(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
def worker_command(burst: bool) -> None:
    """An RQ worker with the scheduler, on the app's queue, plus the periodic sweep."""
    from bridge.processes.worker import run_worker

    run_worker(current_app._get_current_object(), burst=burst)


@click.command("embedded")
@click.option("--host", default="127.0.0.1")
@click.option("--port", default=8000, type=int)
@click.option("--demo-file", default=None,
              help="Run the demo: show this shop file's logins, and play WeChat for its sandbox channels.")
def embedded_command(host: str, port: int, demo_file: str | None) -> None:
    """Web and worker in one process, on the in-process Redis stand-in (make run)."""
    from bridge.processes.embedded import run_embedded

    run_embedded(current_app._get_current_object(), host, port, demo_file)


def init_app(app: Flask) -> None:
    for kind in registry.KINDS.values():
        if kind.simulator is not None and kind.segment and kind.segment not in simulate_cli.commands:
            _simulate_command(kind)
    for command in (db_cli, shops_cli, shopdata_cli, simulate_cli, worker_command, embedded_command):
        app.cli.add_command(command)
