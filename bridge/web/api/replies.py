"""An agent's replies — text, or an image kept in the bridge's media store — and the stored
media of a conversation's messages."""
from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import redis
from flask import Blueprint, current_app, jsonify, request, send_file
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bridge import delivery, typing_indicator
from bridge.channels import registry
from bridge.conversations import lifecycle
from bridge.effects import Effects
from bridge.events import names, payloads
from bridge.infra import db
from bridge.inputs import cleaned
from bridge.media import images, store
from bridge.models import Agent, Conversation, Message
from bridge.shapes import message_json
from bridge.shopdata import cards as shop_cards
from bridge.visibility import audience
from bridge.web.api import cards, catalogue, conversations
from bridge.web.api.auth import current_agent, login_required
from bridge.web.api.conversations import visible
from bridge.web.api.errors import APIError, invalid, not_found
from bridge.web.api.shapes import json_body

bp = Blueprint("replies", __name__)

MAX_TEXT = 2000


@bp.post("/conversations/<id:conversation_id>/messages")
@login_required
def post_message(conversation_id: int):
    """An agent's reply: 201 with the stored message. A `client_id` (made by the agent's page,
    once per message it means to send) makes the send safe to repeat: the same client_id again
    — a double click, a retry after a lost answer, two requests at once — answers 200 with the
    message stored the first time, and nothing is stored or sent twice."""
    c = visible(conversation_id)
    agent, now = current_agent(), conversations.now()
    multipart = request.mimetype == "multipart/form-data"
    body = None if multipart else json_body()
    client_id = _client_id(request.form.get("client_id") if multipart else body.get("client_id"))
    sent = request.form if multipart else body
    if client_id is not None and (earlier := _sent_before(c, agent, client_id, sent, multipart)):
        return jsonify(message_json(earlier)), 200
    history = c.channel.shop.settings.get("history_reply_hours", 72)
    if c.state in ("bot", "queued", "waiting"):
        raise APIError(409, "conflict", f"the conversation is {c.state}: no agent has it yet; take it "
                       "first (POST …/accept), then reply")
    if c.agent_id != agent.id and agent.role != "admin":
        raise APIError(409, "conflict", f"the conversation is {c.state} with {c.agent.name if c.agent else 'nobody'}: "
                       "only its agent or an admin can reply")
    if not lifecycle.can_reply(c, history, now):
        raise APIError(409, "conflict", f"the conversation ended over {history} hours ago (setting "
                       "history_reply_hours); the shopper's next message opens a new one")
    type_ = sent.get("type", "image" if multipart else "text")
    if type_ in shop_cards.KINDS and not multipart:
        if type_ not in registry.get(c.channel.kind).capabilities.send_types:
            raise invalid(f"a {c.channel.kind} channel does not send {type_} cards")
        text, media = catalogue.card_of(c, type_, body)
    elif type_ in cards.CARDS:
        if type_ not in registry.get(c.channel.kind).capabilities.send_types:
            raise invalid(f"a {c.channel.kind} channel does not send {type_} cards")
        if (type_ == "miniprogrampage") != multipart:
            raise invalid("a miniprogrampage card is multipart/form-data with its thumbnail as the file "
                          "'image'; a link card is JSON")
        text, media = cards.card(type_, sent, lambda: _stored_image(c))
    elif multipart:
        if type_ != "image":
            raise invalid("a multipart message is an image (or a miniprogrampage card)")
        text, media = None, _stored_image(c)
    else:
        text, media = body.get("text"), None
        if type_ != "text":
            raise invalid("type must be text or a card (send images as multipart/form-data, field image)")
        if not isinstance(text, str) or not text.strip():
            raise invalid("text must be a non-empty string")
        if len(text) > MAX_TEXT:
            raise invalid(f"text must be at most {MAX_TEXT} characters")
    session = db.session()
    effects = Effects(c.shop_id)
    try:
        message = delivery.create_outbound(session, c, "agent", type_, text, now, agent_id=agent.id, media=media,
                                           client_id=client_id)
    except IntegrityError:  # the same client_id, stored by a request that ran alongside this one
        session.rollback()
        earlier = _sent_before(c, agent, client_id, sent, multipart)
        if earlier is None:
            raise
        return jsonify(message_json(earlier)), 200
    lifecycle.record_agent_reply(session, c, agent, now)
    effects.deliver(message.id, "agent")
    effects.publish(names.MESSAGE_CREATED, c.id, audience(c.agent_id, c.state, c.customer_id),
                    payloads.message(message))
    effects.commit(session)
    typing_indicator.replied(current_app.extensions["redis"], c)
    return jsonify(message_json(message)), 201


@bp.post("/conversations/<id:conversation_id>/typing")
@login_required
def agent_typing(conversation_id: int):
    """The agent is typing in the composer: show the shopper (bridge/typing_indicator.py). Answers what
    became of it; the page calls it every few seconds while the agent types."""
    c, agent = visible(conversation_id), current_agent()
    if c.state != "active" or c.agent_id != agent.id:
        raise APIError(409, "conflict", "only the agent serving an active conversation types in it")
    try:
        state = typing_indicator.agent_types(current_app.extensions["redis"], c, conversations.now())
    except redis.RedisError:
        state = "unavailable"
    return jsonify({"typing": state})


CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")  # a UUID, or any id a client makes of these


def _client_id(raw: Any) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not CLIENT_ID.fullmatch(raw):
        raise invalid("client_id must be 1 to 64 ASCII letters, digits or _ . : -")
    return raw


def _sent_before(c: Conversation, agent: Agent, client_id: str, sent: Mapping[str, Any],
                 multipart: bool) -> Message | None:
    """The message this conversation stored under CLIENT_ID, if it is the same send (the same
    agent, the same type, the same text or title; a file is taken to be the same file); a
    different one under the same id is 409."""
    m = db.session().scalar(select(Message).where(Message.conversation_id == c.id, Message.client_id == client_id))
    if m is None:
        return None
    type_ = sent.get("type", "image" if multipart else "text")
    if type_ in shop_cards.KINDS:  # the same product, coupon or order
        said = sent.get(catalogue.ID_FIELD[type_])
        same = m.type == type_ and (m.media or {}).get("id") == said
    elif type_ in cards.CARDS:  # stored under its title, trimmed
        said = sent.get("title").strip() if isinstance(sent.get("title"), str) else None
    else:
        said = sent.get("text")
    if type_ not in shop_cards.KINDS:
        same = m.type == type_ and (type_ == "image" or m.text == said)
    if m.agent_id != agent.id or not same:
        raise APIError(409, "conflict", "this client_id was used for another message in this conversation; "
                       "make a new one for each message")
    return m


def _stored_image(c: Conversation) -> dict:
    """The agent's image, checked and kept in the bridge's media store: the delivery job uploads
    it to the channel (bridge/media/uploads.py). Bad input is refused before anything is kept."""
    capabilities = registry.get(c.channel.kind).capabilities
    if not capabilities.media_upload:
        raise invalid(f"a {c.channel.kind} channel does not take images")
    file = request.files.get("image")
    if file is None:
        raise invalid("multipart uploads need a file in the field 'image'")
    content = file.read(capabilities.media_max_bytes + 1)
    if len(content) > capabilities.media_max_bytes:
        raise APIError(413, "too_large", f"the image is over the {capabilities.media_max_bytes // 2**20} MB "
                       "the channel takes")
    content_type = images.image_type(content)
    if content_type is None:
        raise APIError(400, "bad_image", "the file is not a JPEG, PNG or GIF image (judged by its "
                       "content, not by its name or declared type)")
    return {"sha256": store.store().put(content), "content_type": content_type, "size": len(content),
            "filename": cleaned(os.path.basename(file.filename or ""))[:200] or None}


@bp.get("/conversations/<id:conversation_id>/messages/<id:message_id>/media")
@login_required
def message_media(conversation_id: int, message_id: int):
    """A message's stored file (the agent's image), for whoever may see the conversation."""
    c = visible(conversation_id)
    m = db.session().get(Message, message_id)
    digest = (m.media or {}).get("sha256") if m is not None and m.conversation_id == c.id else None
    if not digest or not store.store().exists(digest):
        raise not_found("this message has no stored media")
    resp = send_file(store.store().path(digest), mimetype=m.media["content_type"], max_age=86400)
    resp.cache_control.public, resp.cache_control.private = False, True  # behind a login
    resp.headers["X-Content-Type-Options"] = "nosniff"
    return resp
