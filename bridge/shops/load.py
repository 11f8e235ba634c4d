"""Apply a validated shop file: create or update, in one transaction, and only what changed.

Loading the same file twice changes nothing (not even a timestamp). What the file no longer
lists is disabled, not deleted: channels stop answering, agents can no longer log in; their
conversations and messages stay.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bridge.accounts.passwords import hash_password, verify_password
from bridge.channels import registry
from bridge.checks import ConfigError
from bridge.models import (
    Agent,
    AgentGroup,
    AutoReply,
    Channel,
    EntryRoute,
    Group,
    QuickPhrase,
    Shop,
)


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)


def _assign(row: Any, **values: Any) -> bool:
    """Set only what differs; say whether anything did."""
    changed = False
    for name, value in values.items():
        if getattr(row, name) != value:
            setattr(row, name, value)
            changed = True
    return changed


def apply(session: Session, shops: list[dict[str, Any]], now: datetime) -> LoadReport:
    """Write every shop or none: the caller commits, or rolls back on ConfigError."""
    report = LoadReport()
    for i, spec in enumerate(shops):
        shop = session.scalar(select(Shop).where(Shop.key == spec["key"]))
        created = shop is None
        if created:
            shop = Shop(key=spec["key"], name=spec["name"], config_version=1,
                        created_at=now, updated_at=now)
            session.add(shop)
            session.flush()
        changed = _assign(shop, name=spec["name"], timezone=spec["timezone"],
                          settings=spec["settings"])
        changed |= _channels(session, shop, spec["channels"], f"shops[{i}].channels")
        groups, groups_changed = _groups(session, shop, spec["groups"])
        changed |= groups_changed
        changed |= _agents(session, shop, spec["agents"], groups, now)
        changed |= _replace_list(session, shop, EntryRoute, [
            {"when": r["when"], "group_key": r["group"]} for r in spec["entry_routes"]])
        changed |= _replace_list(session, shop, AutoReply, [
            {"keywords": r["keywords"], "match": r["match"], "priority": r["priority"],
             "reply": r["reply"]} for r in spec["auto_replies"]])
        changed |= _replace_list(session, shop, QuickPhrase, spec["quick_phrases"])
        if created:
            report.created.append(shop.key)
        elif changed:
            shop.config_version += 1
            shop.updated_at = now
            report.updated.append(shop.key)
        else:
            report.unchanged.append(shop.key)
    session.flush()
    return report


def _channels(session: Session, shop: Shop, specs: list[dict[str, Any]], path: str) -> bool:
    existing = {c.key: c for c in session.scalars(select(Channel).where(Channel.key.in_(
        [s["key"] for s in specs])))}
    changed = False
    for j, spec in enumerate(specs):
        row = existing.get(spec["key"])
        if row is not None and row.shop_id != shop.id:
            raise ConfigError(f"{path}[{j}].key", f"{spec['key']!r} belongs to another shop")
        settings = {name: spec[name] for name in registry.get(spec["kind"]).fields
                    if spec.get(name) is not None}
        if row is None:
            session.add(Channel(shop_id=shop.id, kind=spec["kind"], key=spec["key"],
                                enabled=True, settings=settings))
            changed = True
        else:
            if row.kind != spec["kind"]:
                raise ConfigError(f"{path}[{j}].kind", f"channel {spec['key']!r} is a {row.kind}; "
                                  "a channel's kind cannot change")
            changed |= _assign(row, enabled=True, settings=settings)
    listed = {s["key"] for s in specs}
    for row in session.scalars(select(Channel).where(Channel.shop_id == shop.id)):
        if row.key not in listed:
            changed |= _assign(row, enabled=False)
    return changed


def _groups(session: Session, shop: Shop, specs: list[dict[str, Any]]) -> tuple[dict[str, Group], bool]:
    rows = {g.key: g for g in session.scalars(select(Group).where(Group.shop_id == shop.id))}
    changed = False
    for spec in specs:
        row = rows.get(spec["key"])
        if row is None:
            row = rows[spec["key"]] = Group(shop_id=shop.id, key=spec["key"], name=spec["name"])
            session.add(row)
            changed = True
        else:
            changed |= _assign(row, name=spec["name"])
    session.flush()
    return rows, changed


def _agents(session: Session, shop: Shop, specs: list[dict[str, Any]], groups: dict[str, Group],
            now: datetime) -> bool:
    rows = {a.username: a for a in session.scalars(select(Agent).where(Agent.shop_id == shop.id))}
    changed = False
    for spec in specs:
        row = rows.get(spec["username"])
        if row is None:
            row = Agent(shop_id=shop.id, username=spec["username"], status="offline",
                        password_hash=spec["password_hash"] or hash_password(spec["password"]),
                        token_version=1, created_at=now)
            session.add(row)
            changed = True
        elif not _same_password(row.password_hash, spec):
            row.password_hash = spec["password_hash"] or hash_password(spec["password"])
            row.token_version += 1  # a new password ends the old sessions
            changed = True
        changed |= _assign(row, name=spec["name"], role=spec["role"], weight=spec["weight"],
                           max_concurrent=spec["max_concurrent"], active=True)
        session.flush()
        wanted = {groups[k].id for k in spec["groups"]}
        have = set(session.scalars(select(AgentGroup.group_id).where(AgentGroup.agent_id == row.id)))
        if wanted != have:
            session.execute(delete(AgentGroup).where(AgentGroup.agent_id == row.id))
            session.add_all(AgentGroup(shop_id=shop.id, agent_id=row.id, group_id=g) for g in wanted)
            changed = True
    listed = {s["username"] for s in specs}
    for username, row in rows.items():
        if username not in listed and row.active:
            _assign(row, active=False, status="offline")
            row.token_version += 1
            changed = True
    return changed


def _same_password(stored: str, spec: dict[str, Any]) -> bool:
    """The file's password (or hash, from an export) is the one stored."""
    if spec["password_hash"] is not None:
        return spec["password_hash"] == stored
    return verify_password(stored, spec["password"])


def _replace_list(session: Session, shop: Shop, model: type, items: list[dict[str, Any]]) -> bool:
    """Ordered lists without keys (rules, phrases, routes) are replaced when they differ."""
    fields = list(items[0]) if items else []
    rows = session.scalars(select(model).where(model.shop_id == shop.id).order_by(model.position)).all()
    current = [{name: getattr(row, name) for name in fields} for row in rows]
    if len(rows) == len(items) and current == items:
        return False
    session.execute(delete(model).where(model.shop_id == shop.id))
    session.add_all(model(shop_id=shop.id, position=n, **item) for n, item in enumerate(items))
    return True
