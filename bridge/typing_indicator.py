"""The typing indicator (正在输入): while an agent types, the shopper's WeChat shows it.

WeChat shows it only shortly after the shopper's last action, so the bridge asks only within
TYPING_WINDOW of the shopper's last message; while one is shown (SHOWN_SECONDS, about as long
as WeChat keeps it up) the agent's further keystrokes ask nothing more; the agent's reply ends
it (WeChat takes the indicator down when the message arrives), so the next keystrokes show it
again. The call to WeChat is a job on the replies' queue: an agent's request never waits for
WeChat, and a refusal is logged and forgotten — it never holds up a reply. A job that finds the
indicator already taken down (the reply was sent first, or it waited past SHOWN_SECONDS) asks
nothing: WeChat would show 正在输入 under a reply that has arrived.
"""
from __future__ import annotations

from datetime import datetime, timedelta

import redis

from bridge import keys
from bridge.channels import registry
from bridge.infra import tasks
from bridge.models import Conversation

TYPING_WINDOW = timedelta(seconds=30)
SHOWN_SECONDS = 15


def agent_types(client: redis.Redis, conversation: Conversation, now: datetime) -> str:
    """What became of the agent's typing: shown (a job asks WeChat), showing (already asked),
    too_late (the shopper's last message is over 30 s old) or not_supported (the channel)."""
    if not registry.get(conversation.channel.kind).capabilities.typing:
        return "not_supported"
    last = conversation.customer.last_inbound_at
    if last is None or now - last > TYPING_WINDOW:
        return "too_late"
    if not client.set(keys.typing_shown(conversation.shop_id, conversation.id), "1", nx=True, ex=SHOWN_SECONDS):
        return "showing"
    tasks.enqueue_typing(conversation.id)
    return "shown"


def still_wanted(client: redis.Redis, conversation: Conversation) -> bool:
    """Whether the indicator the agent asked for is still up: no reply took it down since, and
    it has not lapsed. Redis not answering: asked anyway (a refusal costs nothing but a log line)."""
    try:
        return bool(client.exists(keys.typing_shown(conversation.shop_id, conversation.id)))
    except redis.RedisError:
        return True


def replied(client: redis.Redis, conversation: Conversation) -> None:
    """The agent's reply took the indicator down: their next keystrokes show it again."""
    try:
        client.delete(keys.typing_shown(conversation.shop_id, conversation.id))
    except redis.RedisError:
        pass  # it lapses by itself within SHOWN_SECONDS
