"""Who sees which conversation: an agent sees its own and every one no agent has (the queue,
the leave-messages, and the robot's, which an agent may take over); an admin the whole
shop. One rule, read three ways: for a conversation (detail, replies), for an event on the
live stream, and as the WHERE clause of the conversation list.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
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


def audience(agent_id: int | None, state: str, shopper_id: int | None = None, *,
             was_agent: int | None = None, was_state: str | None = None) -> dict[str, Any]:
    """Who an event about a conversation is for: whoever may see the conversation now and,
    after a change, whoever saw it before (so that their lists can drop it); and its shopper."""
    agents = {a for a in (agent_id, was_agent) if a is not None}
    unassigned = state in UNASSIGNED_STATES or was_state in UNASSIGNED_STATES
    return {"agents": sorted(agents), "queue": unassigned, "shopper": shopper_id}


def shopper_audience(conversations: Iterable[tuple[int | None, str]], shopper_id: int) -> dict[str, Any]:
    """An event about a shopper: for whoever sees one of the shopper's conversations (given as
    (agent_id, state) pairs) — each one's agent, everyone while one has no agent — and the admins."""
    rows = list(conversations)
    return {"agents": sorted({a for a, _ in rows if a is not None}),
            "queue": any(state in UNASSIGNED_STATES for _, state in rows), "shopper": shopper_id}


def agent_audience(agent_id: int) -> dict[str, Any]:
    """An event about an agent: for that agent (and the admins, who see everything)."""
    return {"agents": [agent_id], "queue": False, "shopper": None}


def sees_event(viewer: Viewer, event: Mapping[str, Any]) -> bool:
    """The rule, for an event's audience (`audience` above)."""
    whom = event["audience"]
    return viewer.is_admin or viewer.agent_id in whom["agents"] or whom["queue"]


def conversation_filter(viewer: Viewer) -> ColumnElement[bool]:
    """The rule as SQL, for lists: `sees` for every row at once."""
    if viewer.is_admin:
        return true()
    return (Conversation.agent_id == viewer.agent_id) | Conversation.state.in_(UNASSIGNED_STATES)
