"""The accounts' own tables: one row per sign-in (bridge/accounts/login.py), an agent's own
quick phrases.

Kept apart from bridge/models.py, on the same metadata. Keyed shop first, as distributed
tables are (DESIGN.md, Scale-out).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bridge.models import Agent, Base, BigId, utcnow


class Login(Base):
    """One sign-in of an agent: an API client's token now, an inbox's cookie session next.

    The row is the sign-in: logging out deletes it, and a token whose row is gone is refused.
    `last_seen_at` is when the client was last heard from (a request, an open event stream),
    written at most every few seconds: the agent is present while any of its logins is.
    """

    __tablename__ = "logins"
    __table_args__ = (Index("ix_logins_shop_seen", "shop_id", "last_seen_at"),
                      Index("ix_logins_created_at", "created_at"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # random; the token names it
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]

    agent: Mapped[Agent] = relationship()


class AgentPhrase(Base):
    """A quick phrase of one agent's own, beside the shop-wide ones of the shop file (which a
    shop load replaces; these it never touches). Listed by position, then id."""

    __tablename__ = "agent_phrases"
    __table_args__ = (Index("ix_agent_phrases_agent", "shop_id", "agent_id", "position"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
