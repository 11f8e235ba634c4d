"""The shopper panel's calls: a shopper, their conversations with the shop, notes, tags (and
the shop's tag vocabulary), the exclusive agent. An agent sees a shopper when they see one of
the shopper's conversations (bridge/visibility.py); another shop's ids are not found."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import exists, select
from sqlalchemy.orm import joinedload

from bridge.customers import blocks, people, records
from bridge.customers.models import CustomerNote, Tag
from bridge.infra import db
from bridge.models import Agent, Channel, Conversation, Customer
from bridge.shapes import iso, person
from bridge.visibility import conversation_filter
from bridge.web.api import conversations
from bridge.web.api.auth import current_agent, current_viewer, login_required
from bridge.web.api.errors import APIError, invalid, not_found
from bridge.web.api.shapes import json_body

bp = Blueprint("customers", __name__)

MAX_KEY = 64  # an agent's username (bridge/models.py)


@bp.get("/customers/<id:customer_id>")
@login_required
def get_customer(customer_id: int):
    c = visible_customer(customer_id)
    session = db.session()
    rows = people.linked(session, c)
    exclusive_id = next((r.exclusive_agent_id for r in rows if r.exclusive_agent_id), None)
    exclusive = session.get(Agent, exclusive_id) if exclusive_id else None
    channel = session.get(Channel, c.channel_id)
    return jsonify({
        "id": c.id, "external_id": c.external_id, "nickname": c.nickname, "subscribed": c.subscribed,
        "channel": {"key": channel.key, "kind": channel.kind},
        "entry": {"scene": c.entry_scene, "menu": c.entry_menu, "product": c.entry_product,
                  "order": c.entry_order, "page": c.entry_page},
        "first_seen_at": iso(c.created_at), "last_seen_at": iso(c.last_inbound_at),
        "exclusive_agent": person(exclusive),
        "tags": [_tag_json(t) for t in records.tags_of(session, c, [r.id for r in rows])],
        "blocked": block_shape(next((b for b in (blocks.block_of(session, r) for r in rows) if b), None)),
        # The same person on other channels (customers/people.py): one history, notes and tags.
        "linked": [_linked_json(session, r) for r in rows[1:]],
    })


def _linked_json(session, c: Customer) -> dict:
    channel = session.get(Channel, c.channel_id)
    return {"id": c.id, "external_id": c.external_id, "nickname": c.nickname,
            "channel": {"key": channel.key, "kind": channel.kind}, "last_seen_at": iso(c.last_inbound_at)}


def _linked_ids(c: Customer) -> list[int]:
    return [r.id for r in people.linked(db.session(), c)]


@bp.get("/customers/<id:customer_id>/conversations")
@login_required
def customer_conversations(customer_id: int):
    """The shopper's conversations with the shop that the agent sees — on every channel linked to
    them (customers/people.py) — newest first (100 at most)."""
    c = visible_customer(customer_id)
    rows = db.session().scalars(
        select(Conversation).options(joinedload(Conversation.channel), joinedload(Conversation.agent))
        .where(Conversation.shop_id == c.shop_id, Conversation.customer_id.in_(_linked_ids(c)),
               conversation_filter(current_viewer()))
        .order_by(Conversation.id.desc()).limit(100)).all()
    return jsonify({"items": conversations.rows(rows)})


@bp.get("/customers/<id:customer_id>/notes")
@login_required
def list_notes(customer_id: int):
    c = visible_customer(customer_id)
    notes = db.session().scalars(
        select(CustomerNote).options(joinedload(CustomerNote.agent))
        .where(CustomerNote.shop_id == c.shop_id, CustomerNote.customer_id.in_(_linked_ids(c)))
        .order_by(CustomerNote.id.desc())).all()
    return jsonify({"items": [_note_json(n) for n in notes]})


@bp.post("/customers/<id:customer_id>/notes")
@login_required
def add_note(customer_id: int):
    c = visible_customer(customer_id)
    body = _only(json_body(), {"text"})
    text = _text(body.get("text"), "text", records.MAX_NOTE)
    note = records.add_note(db.session(), c, current_agent(), text, conversations.now())
    return jsonify(_note_json(note)), 201


@bp.delete("/customers/<id:customer_id>/notes/<id:note_id>")
@login_required
def delete_note(customer_id: int, note_id: int):
    c = visible_customer(customer_id)
    note = db.session().get(CustomerNote, note_id)
    if note is None or note.customer_id not in _linked_ids(c) or note.shop_id != c.shop_id:
        raise not_found("no such note")
    _allowed(records.delete_note, db.session(), c, note, current_agent())
    return "", 204


@bp.get("/tags")
@login_required
def list_tags():
    tags = db.session().scalars(select(Tag).where(Tag.shop_id == current_agent().shop_id).order_by(Tag.name)).all()
    return jsonify({"items": [_tag_json(t) for t in tags]})


@bp.post("/tags")
@login_required
def create_tag():
    agent = current_agent()
    body = _only(json_body(), {"name"})
    name = _text(body.get("name"), "name", records.MAX_TAG)
    tag = _allowed(records.create_tag, db.session(), agent.shop_id, agent, name, conversations.now())
    return jsonify(_tag_json(tag)), 201


@bp.put("/customers/<id:customer_id>/tags/<id:tag_id>")
@login_required
def tag_customer(customer_id: int, tag_id: int):
    c = visible_customer(customer_id)
    records.tag_customer(db.session(), c, _tag(tag_id), current_agent(), conversations.now())
    return "", 204


@bp.delete("/customers/<id:customer_id>/tags/<id:tag_id>")
@login_required
def untag_customer(customer_id: int, tag_id: int):
    c = visible_customer(customer_id)
    records.untag_customer(db.session(), c, _tag(tag_id), _linked_ids(c))
    return "", 204


@bp.put("/customers/<id:customer_id>/exclusive-agent")
@login_required
def set_exclusive_agent(customer_id: int):
    """{"agent": username} makes that agent the shopper's 专属客服; {"agent": null} removes it."""
    c = visible_customer(customer_id)
    body = _only(json_body(), {"agent"})
    if "agent" not in body:
        raise invalid("agent is required: a username of this shop, or null to remove it")
    username = body["agent"]
    if username is not None and (not isinstance(username, str) or not 0 < len(username) <= MAX_KEY):
        raise invalid("agent must be a username of this shop, or null")
    agent = None
    if username is not None:
        agent = db.session().scalar(select(Agent).where(
            Agent.shop_id == c.shop_id, Agent.username == username, Agent.active.is_(True)))
        if agent is None:
            raise invalid(f"agent: no agent {username!r} in this shop")
    _allowed(records.set_exclusive_agent, db.session(), c, current_agent(), agent)
    return jsonify({"exclusive_agent": person(agent)})


def block_shape(b) -> dict | None:
    return None if b is None else {"at": iso(b.created_at), "reason": b.reason, "by": person(b.agent)}


def visible_customer(customer_id: int) -> Customer:
    viewer = current_viewer()
    c = db.session().get(Customer, customer_id)
    if c is None or c.shop_id != viewer.shop_id:
        raise not_found("no such shopper")
    if not viewer.is_admin and not db.session().scalar(select(exists().where(
            Conversation.shop_id == c.shop_id, Conversation.customer_id == c.id, conversation_filter(viewer)))):
        raise APIError(403, "forbidden", "this shopper's conversations are another agent's")
    return c


def _tag(tag_id: int) -> Tag:
    tag = db.session().get(Tag, tag_id)
    if tag is None or tag.shop_id != current_agent().shop_id:
        raise not_found("no such tag")
    return tag


def _allowed(change, *args):
    try:
        return change(*args)
    except records.Refused as exc:
        raise APIError(403, "forbidden", str(exc)) from None


def _only(body: dict[str, Any], fields: set[str]) -> dict[str, Any]:
    unknown = sorted(set(body) - fields)
    if unknown:
        raise invalid(f"unknown field {unknown[0]!r}: this call takes {', '.join(sorted(fields))}")
    return body


def _text(value: Any, field: str, most: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise invalid(f"{field} is required: a text of 1 to {most} characters")
    value = value.strip()
    if len(value) > most:
        raise invalid(f"{field} is {len(value)} characters: at most {most}")
    return value


def _note_json(note: CustomerNote) -> dict[str, Any]:
    return {"id": note.id, "text": note.text, "agent": person(note.agent), "created_at": iso(note.created_at)}


def _tag_json(tag: Tag) -> dict[str, Any]:
    return {"id": tag.id, "name": tag.name}
