"""A shop as it stands, written back in the shop file's format (`flask shops export`).

Loading the export changes nothing: it lists what a load of it would write, as stored. What
a load disables rather than deletes (channels and agents the file no longer listed) is left
out, so it stays disabled. Agents carry their stored argon2 `password_hash` in place of the
password, which is not kept; channel secrets are the shop's own and are written as they are.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

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


def export(session: Session, key: str) -> dict[str, Any]:
    """{"shops": [the shop KEY]}; LookupError when there is no such shop."""
    shop = session.scalar(select(Shop).where(Shop.key == key))
    if shop is None:
        raise LookupError(f"no shop {key!r}")

    def rows(model: type, *order: Any) -> list[Any]:
        return list(session.scalars(select(model).where(model.shop_id == shop.id).order_by(*order)))

    groups = rows(Group, Group.id)
    group_keys = {g.id: g.key for g in groups}
    members: dict[int, list[str]] = {}
    for link in rows(AgentGroup, AgentGroup.agent_id, AgentGroup.group_id):
        members.setdefault(link.agent_id, []).append(group_keys[link.group_id])
    return {"shops": [{
        "key": shop.key,
        "name": shop.name,
        "timezone": shop.timezone,
        "settings": shop.settings,
        "channels": [{"kind": c.kind, "key": c.key, **c.settings}
                     for c in rows(Channel, Channel.id) if c.enabled],
        "groups": [{"key": g.key, "name": g.name} for g in groups],
        "entry_routes": [{"when": r.when, "group": r.group_key}
                         for r in rows(EntryRoute, EntryRoute.position)],
        "agents": [{"username": a.username, "password_hash": a.password_hash, "name": a.name,
                    "role": a.role, "max_concurrent": a.max_concurrent, "weight": a.weight,
                    "groups": sorted(members.get(a.id, []))}
                   for a in rows(Agent, Agent.id) if a.active],
        "auto_replies": [{"keywords": r.keywords, "match": r.match, "priority": r.priority, "reply": r.reply}
                         for r in rows(AutoReply, AutoReply.position)],
        "quick_phrases": [{"title": p.title, "text": p.text} for p in rows(QuickPhrase, QuickPhrase.position)],
    }]}
