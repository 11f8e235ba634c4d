"""Who sees which conversation: an agent sees its own and the shop's queue; an admin the whole
shop. One rule, read three ways: for a conversation (detail, replies), for an event on the
live stream, and as the WHERE clause of the conversation list.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, true

from bridge.models import WAITING_STATES, Agent, Conversation


@dataclass(frozen=True)
class Viewer:
    shop_id: int
    agent_id: int
    is_admin: bool

    @classmethod
    def of(cls, agent: Agent) -> Viewer:
        return cls(shop_id=agent.shop_id, agent_id=agent.id, is_admin=agent.role == "admin")


def sees(viewer: Viewer, agent_id: int | None, in_queue: bool) -> bool:
    """The rule: whose conversation it is (AGENT_ID), and whether it waits in the queue."""
    return viewer.is_admin or agent_id == viewer.agent_id or in_queue


def sees_conversation(viewer: Viewer, conversation: Conversation) -> bool:
    return conversation.shop_id == viewer.shop_id and sees(
        viewer, conversation.agent_id, conversation.state in WAITING_STATES)


def sees_event(viewer: Viewer, event: Mapping[str, Any]) -> bool:
    """Events name their audience (events/names.py): the agent, and the queue's watchers."""
    return sees(viewer, event.get("agent_id"), bool(event.get("queue")))


def conversation_filter(viewer: Viewer) -> ColumnElement[bool]:
    """The rule as SQL, for lists: `sees` for every row at once."""
    if viewer.is_admin:
        return true()
    return (Conversation.agent_id == viewer.agent_id) | Conversation.state.in_(WAITING_STATES)
