"""Conversations and their messages, scoped to the agent's shop."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from adapters.errors import ChannelAPIError
from bridge import db, delivery, outbound, tasks
from bridge.api import bp
from bridge.api.auth import current_agent, login_required
from bridge.api.shapes import conversation_json, json_body, message_json
from bridge.errors import APIError, invalid, not_found
from bridge.models import CONVERSATION_STATES, Conversation, Message

MAX_TEXT = 2000
IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif"}


def _int_arg(name: str, default: int | None, lo: int, hi: int) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not lo <= int(raw) <= hi:
        raise APIError(400, "bad_request", f"{name} must be a whole number from {lo} to {hi}")
    return int(raw)


def _conversation(conversation_id: int) -> Conversation:
    """The conversation if it is in the agent's shop; another shop's id is simply not found."""
    c = db.session().get(Conversation, conversation_id)
    if c is None or c.shop_id != current_agent().shop_id:
        raise not_found("no such conversation")
    return c


@bp.get("/conversations")
@login_required
def list_conversations():
    state = request.args.get("state")
    if state is not None and state not in CONVERSATION_STATES:
        raise APIError(400, "bad_request", f"state must be one of {', '.join(CONVERSATION_STATES)}")
    limit = _int_arg("limit", 100, 1, 500)
    query = (select(Conversation)
             .options(joinedload(Conversation.channel), joinedload(Conversation.customer),
                      joinedload(Conversation.agent), joinedload(Conversation.group))
             .where(Conversation.shop_id == current_agent().shop_id)
             .order_by(Conversation.id.desc()).limit(limit))
    if state:
        query = query.where(Conversation.state == state)
    items = db.session().scalars(query).all()
    return jsonify({"items": [conversation_json(c) for c in items]})


@bp.get("/conversations/<int:conversation_id>")
@login_required
def get_conversation(conversation_id: int):
    return jsonify(conversation_json(_conversation(conversation_id)))


@bp.get("/conversations/<int:conversation_id>/messages")
@login_required
def list_messages(conversation_id: int):
    c = _conversation(conversation_id)
    limit = _int_arg("limit", 100, 1, 500)
    before = _int_arg("before", None, 1, 2**62)
    query = (select(Message).options(joinedload(Message.agent))
             .where(Message.conversation_id == c.id, Message.shop_id == c.shop_id)
             .order_by(Message.id.desc()).limit(limit))
    if before:
        query = query.where(Message.id < before)
    items = list(reversed(db.session().scalars(query).all()))
    return jsonify({"items": [message_json(m) for m in items]})


@bp.post("/conversations/<int:conversation_id>/messages")
@login_required
def post_message(conversation_id: int):
    c = _conversation(conversation_id)
    if request.mimetype == "multipart/form-data":
        type_, text, media = "image", None, _upload_image(c)
    else:
        body = json_body()
        type_, text, media = body.get("type", "text"), body.get("text"), None
        if type_ != "text":
            raise invalid("type must be text (send images as multipart/form-data, field image)")
        if not isinstance(text, str) or not text.strip():
            raise invalid("text must be a non-empty string")
        if len(text) > MAX_TEXT:
            raise invalid(f"text must be at most {MAX_TEXT} characters")
    session = db.session()
    message = delivery.create_outbound(session, c, "agent", type_, text, _now(),
                                       agent_id=current_agent().id, media=media)
    session.commit()
    tasks.enqueue_delivery(message.id)
    return jsonify(message_json(message)), 201


def _upload_image(c: Conversation) -> dict:
    """Agent images go to WeChat's temporary media first; the message then carries the media_id."""
    file = request.files.get("image")
    if file is None or not file.filename:
        raise invalid("multipart uploads need a file in the field 'image'")
    if file.mimetype not in IMAGE_TYPES:
        raise invalid(f"image must be one of {', '.join(sorted(IMAGE_TYPES))}")
    content = file.read(current_app.config["UPLOAD_MAX_BYTES"] + 1)
    if len(content) > current_app.config["UPLOAD_MAX_BYTES"]:
        raise APIError(413, "too_large", "image is over the 10 MB WeChat allows")
    try:
        media_id = outbound.upload_image(current_app._get_current_object(), c.channel,
                                         file.filename, content, file.mimetype)
    except ChannelAPIError as exc:
        raise APIError(502, "channel_error", f"WeChat refused the upload: {exc.code} {exc.message}") from exc
    return {"media_id": media_id, "filename": file.filename}


def _now() -> datetime:
    return datetime.now(timezone.utc)
