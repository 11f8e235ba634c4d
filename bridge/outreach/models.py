"""What outreach keeps: each outreach with its agent, and the subscribe messages a Mini Program
shopper agreed to receive (one message per agreement, as WeChat counts them)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from bridge.models import Base, BigId, utcnow


class Outreach(Base):
    """An agent reached out to a shopper: by a message in the window, or a template notice."""

    __tablename__ = "outreaches"
    __table_args__ = (Index("ix_outreaches_shop_created", "shop_id", "created_at"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"))
    how: Mapped[str] = mapped_column(String(16))  # message | template
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubscribeConsent(Base):
    """A Mini Program shopper accepted a subscribe message template (wx.requestSubscribeMessage,
    reported by the shop): REMAINING messages of it may be sent."""

    __tablename__ = "subscribe_consents"
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), primary_key=True)
    openid: Mapped[str] = mapped_column(String(128), primary_key=True)
    template_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    remaining: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
