"""Quick phrases (快捷短语): the shop's, from the shop file (a shop load replaces them), and each
agent's own, which the agent writes, edits and deletes here and a shop load never touches.
An agent sees their own and the shop's; nobody sees another agent's."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from sqlalchemy import func, select

from bridge.accounts.models import AgentPhrase
from bridge.errors import Conflict
from bridge.infra import db
from bridge.models import QuickPhrase
from bridge.web.api import conversations
from bridge.web.api.auth import current_agent, login_required
from bridge.web.api.errors import invalid, not_found
from bridge.web.api.shapes import json_body

bp = Blueprint("phrases", __name__)

MAX_TITLE = 30  # a label the "/" picker shows on one line and the agent types a part of
MAX_TEXT = 1000  # a ready answer, well inside a reply's 2000
MAX_OWN = 200  # an agent's own phrases


@bp.get("/quick-phrases")
@login_required
def list_phrases():
    """The agent's own first (written for themselves, the likelier pick), then the shop's."""
    agent, session = current_agent(), db.session()
    own = session.scalars(select(AgentPhrase).where(AgentPhrase.shop_id == agent.shop_id,
                                                    AgentPhrase.agent_id == agent.id)
                          .order_by(AgentPhrase.position, AgentPhrase.id)).all()
    shop = session.scalars(select(QuickPhrase).where(QuickPhrase.shop_id == agent.shop_id)
                           .order_by(QuickPhrase.position)).all()
    return jsonify({"items": [_own_json(p) for p in own]
                    + [{"id": None, "scope": "shop", "title": p.title, "text": p.text} for p in shop]})


@bp.post("/quick-phrases")
@login_required
def create_phrase():
    agent, session = current_agent(), db.session()
    body = _fields(json_body(), required=True)
    count, last = session.execute(select(func.count(), func.max(AgentPhrase.position)).where(
        AgentPhrase.shop_id == agent.shop_id, AgentPhrase.agent_id == agent.id)).one()
    if count >= MAX_OWN:
        raise Conflict(f"you have {MAX_OWN} quick phrases of your own, the most there may be: delete some first")
    now = conversations.now()
    phrase = AgentPhrase(shop_id=agent.shop_id, agent_id=agent.id, position=(last or 0) + 1,
                         title=body["title"], text=body["text"], created_at=now, updated_at=now)
    session.add(phrase)
    session.commit()
    return jsonify(_own_json(phrase)), 201


@bp.patch("/quick-phrases/<id:phrase_id>")
@login_required
def update_phrase(phrase_id: int):
    phrase = _own(phrase_id)
    body = _fields(json_body(), required=False)
    if not body:
        raise invalid("give title, text or both")
    for name, value in body.items():
        setattr(phrase, name, value)
    phrase.updated_at = conversations.now()
    db.session().commit()
    return jsonify(_own_json(phrase))


@bp.delete("/quick-phrases/<id:phrase_id>")
@login_required
def delete_phrase(phrase_id: int):
    db.session().delete(_own(phrase_id))
    db.session().commit()
    return "", 204


def _own(phrase_id: int) -> AgentPhrase:
    """One of the agent's own phrases; a shop phrase's, another agent's or another shop's id is not found."""
    agent = current_agent()
    phrase = db.session().get(AgentPhrase, phrase_id)
    if phrase is None or phrase.shop_id != agent.shop_id or phrase.agent_id != agent.id:
        raise not_found("no such quick phrase of yours")
    return phrase


def _fields(body: dict[str, Any], required: bool) -> dict[str, str]:
    unknown = sorted(set(body) - {"title", "text"})
    if unknown:
        raise invalid(f"unknown field {unknown[0]!r}: a quick phrase has title and text")
    out = {}
    for name, most in (("title", MAX_TITLE), ("text", MAX_TEXT)):
        if name not in body and not required:
            continue
        value = body.get(name)
        if not isinstance(value, str) or not value.strip():
            raise invalid(f"{name} is required: a text of 1 to {most} characters")
        if len(value.strip()) > most:
            raise invalid(f"{name} is {len(value.strip())} characters: at most {most}")
        out[name] = value.strip()
    return out


def _own_json(phrase: AgentPhrase) -> dict[str, Any]:
    return {"id": phrase.id, "scope": "own", "title": phrase.title, "text": phrase.text}
