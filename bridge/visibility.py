"""Who sees which conversation: an agent sees its own and every one no agent has (the queue,
the leave-messages, and the robot's, which an agent may take over); an admin the whole
shop. One rule, read three ways: for a conversation (detail, replies), for an event on the
live stream, and as the WHERE clause of the conversation list.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, true

from bridge.models import Agent, Conversation

UNASSIGNED_STATES = ("bot", "queued", "waiting")


@dataclass(frozen=True)
class Viewer:
    shop_id: int
    agent_id: int
    is_admin: bool

    @classmethod
    def of(cls, agent: Agent) -> Viewer:
        return cls(shop_id=agent.shop_id, agent_id=agent.id, is_admin=agent.role == "admin")


def sees(viewer: Viewer, agent_id: int | None, unassigned: bool) -> bool:
    """The rule: whose conversation it is (AGENT_ID), and whether no agent has it."""
    return viewer.is_admin or agent_id == viewer.agent_id or unassigned


def sees_conversation(viewer: Viewer, conversation: Conversation) -> bool:
    return conversation.shop_id == viewer.shop_id and sees(
        viewer, conversation.agent_id, conversation.state in UNASSIGNED_STATES)


def sees_event(viewer: Viewer, event: Mapping[str, Any]) -> bool:
    """Events name their audience (events/names.py): the agent, and everyone who watches the
    unassigned conversations (`queue`)."""
    return sees(viewer, event.get("agent_id"), bool(event.get("queue")))


def conversation_filter(viewer: Viewer) -> ColumnElement[bool]:
    """The rule as SQL, for lists: `sees` for every row at once."""
    if viewer.is_admin:
        return true()
    return (Conversation.agent_id == viewer.agent_id) | Conversation.state.in_(UNASSIGNED_STATES)
