"""The routing engine's view of waiting shoppers (bridge/routing.py's Request): what is known of
each — their entry context, their recent and exclusive agents, an agent they chose — read for a
page of the queue at a time."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from bridge.customers import people
from bridge.models import Channel, Conversation, Customer, Shop
from bridge.routing import Request, ShopRules, Waiting
from bridge.shopdata import read


def requests(session: Session, shop: Shop, rules: ShopRules, rows, usernames: dict[str, int],
             now: datetime) -> list[Waiting]:
    """ROWS (conversation, customer) as the engine's waiting list. A shopper the shop linked across
    channels (customers/people.py) is one person: their recent and exclusive agents are any
    channel's."""
    links = people.linked_many(session, shop.id, [cu for _, cu in rows]) \
        if rows and people.shop_links(session, shop.id) else {}
    recent = recent_agents(session, shop, list({m.id for _, cu in rows for m in links.get(cu.id, [cu])}), now)
    kinds = dict(session.execute(select(Channel.id, Channel.kind).where(Channel.shop_id == shop.id)).all())
    # What shop data adds (the product's category, the order's state): read only when a route tests it.
    tested = {key for route in rules.routes for key in route.when} & set(read.DERIVED)
    derived = read.derived_context(session, shop.id, [(cu, kinds[cu.channel_id]) for _, cu in rows],
                                   tested) if tested and rows else {}
    return [Waiting(build_request(c, cu, usernames, recent, kinds[cu.channel_id], derived.get(cu.id),
                                  links.get(cu.id, [cu])), c.queued_at.timestamp()) for c, cu in rows]


def recent_agents(session: Session, shop: Shop, customer_ids: list[int],
                  now: datetime) -> dict[int, tuple[datetime, int]]:
    """Each shopper's agent of the last `recent_contact_hours`, the latest one, with when."""
    hours = shop.settings.get("recent_contact_hours", 72)
    if not hours or not customer_ids:
        return {}
    rows = session.execute(
        select(Conversation.customer_id, Conversation.agent_id, Conversation.assigned_at)
        .where(Conversation.shop_id == shop.id, Conversation.customer_id.in_(customer_ids),
               Conversation.agent_id.is_not(None),
               Conversation.assigned_at >= now - timedelta(hours=hours))
        .order_by(Conversation.assigned_at)).all()
    return {customer_id: (at, agent_id) for customer_id, agent_id, at in rows}  # later rows win


def build_request(conversation: Conversation, customer: Customer, usernames: dict[str, int],
                  recent: dict[int, tuple[datetime, int]], channel_kind: str = "",
                  derived: dict[str, str] | None = None, linked: list[Customer] | None = None) -> Request:
    """The routing engine's view of one waiting shopper. Its entry context (DESIGN.md, Entry
    context): the scene, menu and page they came from, their channel's kind, and what shop data
    DERIVED of it (category, order_state)."""
    context = {k: v for k, v in (("scene", customer.entry_scene), ("menu", customer.entry_menu),
                                 ("page", customer.entry_page), ("channel", channel_kind)) if v}
    context.update(derived or {})
    chosen = None
    for value in (customer.entry_scene, customer.entry_menu):
        if value and value.startswith("agent_"):
            chosen = usernames.get(value[len("agent_"):])
    rows = linked or [customer]
    latest = max((recent[r.id] for r in rows if r.id in recent), default=None)
    exclusive = next((r.exclusive_agent_id for r in rows if r.exclusive_agent_id), None)
    return Request(conversation_id=conversation.id, context=context, chosen_agent_id=chosen,
                   recent_agent_id=latest[1] if latest else None,
                   exclusive_agent_id=exclusive, group_id=conversation.group_id)
