"""What the shop tells the shopper on its own: welcome, transfer, queue, off-hours, no-agent,
rating, thanks.

Every notice is an outbox row like an agent's reply, so it is delivered by the same jobs and
counts against the same channel window and caps.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from bridge.delivery import create_outbound
from bridge.effects import Effects
from bridge.events import names, payloads
from bridge.models import Conversation
from bridge.visibility import audience

SETTING = {
    "welcome": "welcome_message",
    "queue": "queue_message",
    "off_hours": "off_hours_message",
    "no_agent": "no_agent_message",
    "rating": "rating_message",
    "thanks": "thanks_message",
    "rating_hint": "rating_hint_message",
    "transfer": "transfer_message",
}


def render(template: str, **values: Any) -> str:
    """Fill {agent} and {position}; any other brace is the merchant's text, left alone."""
    for name, value in values.items():
        template = template.replace("{" + name + "}", str(value))
    return template


def notice_text(settings: Mapping[str, Any], kind: str, **values: Any) -> str | None:
    """The shop's text for the notice KIND, filled in; None when the merchant blanked it."""
    return render(settings.get(SETTING[kind]) or "", **values).strip() or None


def send_notice(session: Session, effects: Effects, settings: dict[str, Any], conversation: Conversation,
                kind: str, now: datetime, **values: Any) -> None:
    text = notice_text(settings, kind, **values)
    if text is None:  # a merchant who blanks a message does not want it sent
        return
    message = create_outbound(session, conversation, "system", "text", text, now, raw={"notice": kind})
    effects.deliver(message.id, "system")
    effects.publish(names.MESSAGE_CREATED, conversation.id,
                    audience(conversation.agent_id, conversation.state, conversation.customer_id),
                    payloads.message(message))
