"""Ask the channel to show the shopper that an agent is typing (bridge/typing_indicator.py)."""
from __future__ import annotations

import logging

from flask import current_app

from bridge import typing_indicator
from bridge.channels.contract import SendFailed
from bridge.channels.runtime import adapter_for
from bridge.infra import db
from bridge.models import Conversation

log = logging.getLogger(__name__)


def show_typing(conversation_id: int) -> str:
    app = current_app._get_current_object()
    with db.new_session(app) as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None or conversation.state != "active":
            return "gone"
        if not typing_indicator.still_wanted(app.extensions["redis"], conversation):
            return "taken_down"  # the agent's reply went first: 正在输入 now would sit under it
        channel, openid = conversation.channel, conversation.customer.external_id
        try:
            adapter = adapter_for(app, channel)
        except LookupError as exc:
            log.info("conversation %s: no typing indicator (%s)", conversation_id, exc)
            return "no_adapter"
    try:
        adapter.typing(openid, True)
    except SendFailed as exc:  # WeChat refused it (too late, unfollowed…): the reply is unaffected
        log.warning("conversation %s: typing indicator refused (%s)", conversation_id, exc)
        return "refused"
    return "shown"
