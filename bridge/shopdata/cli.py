"""`flask --app wsgi shopdata …`: the shop's API keys, and importing shop data files."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import select

from bridge.infra import db
from bridge.models import Channel, Shop
from bridge.shopdata import files, hotcache, keep, keys, rows
from bridge.shopdata.models import ShopApiKey

shopdata_cli = AppGroup("shopdata", help="Shop data: API keys for the shop's systems; import files.")
keys_cli = AppGroup("keys", help="The shop-data API's keys (each shown once, kept hashed).")
shopdata_cli.add_command(keys_cli)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _shop(key: str) -> Shop:
    shop = db.session().scalar(select(Shop).where(Shop.key == key))
    if shop is None:
        raise click.ClickException(f"no shop with the key {key!r} (load it first: flask shops load FILE)")
    return shop


@keys_cli.command("create")
@click.argument("shop_key")
@click.option("--label", default=None, help="What uses this key, e.g. 'order system'.")
def keys_create(shop_key: str, label: str | None) -> None:
    """Make a key for SHOP_KEY's systems; printed once, alone on the last line."""
    session = db.session()
    key = keys.create(session, _shop(shop_key), label, _now())
    session.commit()
    click.echo("A new shop-data API key. It is shown only now; keep it in the shop's systems.", err=True)
    click.echo(key)


@keys_cli.command("revoke")
@click.argument("prefix")
def keys_revoke(prefix: str) -> None:
    """End the key whose public part (before the dot) is PREFIX."""
    session = db.session()
    row = keys.revoke(session, prefix.partition(".")[0], _now())
    if row is None:
        raise click.ClickException(f"no key {prefix!r} (flask shopdata keys list SHOP_KEY lists them)")
    session.commit()
    click.echo(f"revoked {row.prefix}")


@keys_cli.command("list")
@click.argument("shop_key")
def keys_list(shop_key: str) -> None:
    """The shop's keys by their public part; never the keys themselves."""
    for row in db.session().scalars(select(ShopApiKey).where(ShopApiKey.shop_id == _shop(shop_key).id)
                                    .order_by(ShopApiKey.id)):
        state = f"revoked {row.revoked_at:%Y-%m-%d %H:%M}" if row.revoked_at else "active"
        click.echo(f"{row.prefix}\t{state}\tmade {row.created_at:%Y-%m-%d %H:%M}\t{row.label or ''}")


@shopdata_cli.command("import")
@click.argument("shop_key")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--kind", type=click.Choice(rows.KINDS), default=None, help="A CSV file's kind of rows.")
def import_file(shop_key: str, path: Path, kind: str | None) -> None:
    """Upsert the products, orders and coupons of a .json or .csv file into SHOP_KEY, all or
    nothing, every row checked as the API checks it."""
    shop = _shop(shop_key)
    session = db.session()
    channels = dict(session.execute(select(Channel.key, Channel.id).where(Channel.shop_id == shop.id)).all())
    try:
        written = keep.upsert_file(session, shop.id, files.read(path, kind), channels, _now())
    except files.FileError as exc:
        raise click.ClickException(str(exc)) from None
    except rows.BatchError as exc:
        where = "\n".join(f"  {p}: {m}" for p, m in exc.errors[:20])
        more = f"\n  … and {len(exc.errors) - 20} more" if len(exc.errors) > 20 else ""
        session.rollback()
        raise click.ClickException(f"nothing imported; {path.name} has errors:\n{where}{more}") from None
    session.commit()
    hotcache.forget(current_app.extensions["redis"], shop.id)
    click.echo(", ".join(f"{n} {kind}" for kind, n in written.items()) + f" imported into {shop_key}")
