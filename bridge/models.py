"""SQLAlchemy 2 models. Every table that grows carries shop_id (see DESIGN.md, Scale-out)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s", "pk": "pk_%(table_name)s"}

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets BIGINT identities.
BigId = BigInteger().with_variant(Integer(), "sqlite")

CONVERSATION_STATES = ("bot", "queued", "active", "waiting", "ended")
OPEN_STATES = ("bot", "queued", "active", "waiting")
WAITING_STATES = ("queued", "waiting")  # in the shop's queue, waiting for an agent
DELIVERY_STATES = ("pending", "sending", "sent", "failed", "unknown")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


class Shop(Base):
    __tablename__ = "shops"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Bumped whenever a config load changes anything; in-process caches key on it.
    config_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    channels: Mapped[list[Channel]] = relationship(back_populates="shop")


class Channel(Base):
    __tablename__ = "channels"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(64), unique=True)  # the URL names it alone
    # The fields its kind declares (bridge/channels/registry.py): app id, token, secret, …
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)

    shop: Mapped[Shop] = relationship(back_populates="channels")


class Group(Base):
    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("shop_id", "key"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))


class Agent(Base):
    __tablename__ = "agents"
    __table_args__ = (UniqueConstraint("shop_id", "username"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    status: Mapped[str] = mapped_column(String(16), default="offline")
    max_concurrent: Mapped[int] = mapped_column(Integer, default=10)
    weight: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # False: removed from config
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    last_assigned_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AgentGroup(Base):
    __tablename__ = "agent_groups"
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"), primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id"), primary_key=True)


class EntryRoute(Base):
    __tablename__ = "entry_routes"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    when: Mapped[dict[str, Any]] = mapped_column("when_", JSON)
    group_key: Mapped[str] = mapped_column(String(64))


class AutoReply(Base):
    __tablename__ = "auto_replies"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    keywords: Mapped[list[Any]] = mapped_column(JSON)
    match: Mapped[str] = mapped_column(String(16))
    priority: Mapped[int] = mapped_column(Integer, default=0)
    reply: Mapped[dict[str, Any]] = mapped_column(JSON)


class QuickPhrase(Base):
    __tablename__ = "quick_phrases"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)


class Customer(Base):
    """One shopper as seen through one channel (channel + openid / visitor id)."""

    __tablename__ = "customers"
    __table_args__ = (UniqueConstraint("channel_id", "external_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    external_id: Mapped[str] = mapped_column(String(128))
    nickname: Mapped[str | None] = mapped_column(String(200))
    subscribed: Mapped[bool | None] = mapped_column(Boolean)
    entry_scene: Mapped[str | None] = mapped_column(String(128))  # last QR scene
    entry_menu: Mapped[str | None] = mapped_column(String(128))  # last menu key clicked
    entry_product: Mapped[str | None] = mapped_column(String(128))  # the product the widget's page passed
    entry_order: Mapped[str | None] = mapped_column(String(128))  # the order it passed
    entry_page: Mapped[str | None] = mapped_column(String(512))  # the page the shopper wrote from
    last_inbound_at: Mapped[datetime | None]
    # The channel's send window: messages still allowed and until when (FACTS.md §2).
    window_expires_at: Mapped[datetime | None]
    window_quota: Mapped[int] = mapped_column(Integer, default=0)
    exclusive_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    # The conversation whose rating card awaits an answer (a reply of 1–5 is the rating).
    rating_conversation_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = (
        # At most one open conversation per shopper, whatever process opens it.
        Index(
            "uq_conversations_open_customer",
            "customer_id",
            unique=True,
            sqlite_where=text("state != 'ended'"),
            postgresql_where=text("state != 'ended'"),
        ),
        Index("ix_conversations_shop_state", "shop_id", "state"),
        Index("ix_conversations_customer_ended", "customer_id", "ended_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    state: Mapped[str] = mapped_column(String(16))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id"))
    queued_at: Mapped[datetime | None]
    assigned_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    last_customer_message_at: Mapped[datetime | None]
    # Set when the shopper writes and nobody has answered yet; cleared by an agent's reply.
    awaiting_reply_since: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    routed_at: Mapped[datetime | None]  # when routing first decided (and told the shopper)
    queue_position_told: Mapped[int | None] = mapped_column(Integer)  # the last place the shopper was told
    end_reason: Mapped[str | None] = mapped_column(String(32))
    rating_invited_at: Mapped[datetime | None]
    rating_hinted_at: Mapped[datetime | None]  # the shopper was told how to answer the card, once
    rating_score: Mapped[int | None] = mapped_column(Integer)
    rating_comment: Mapped[str | None] = mapped_column(String(500))
    rated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    channel: Mapped[Channel] = relationship()
    customer: Mapped[Customer] = relationship()
    agent: Mapped[Agent | None] = relationship()
    group: Mapped[Group | None] = relationship()


class Message(Base):
    """Everything said in a conversation; outbound rows double as the delivery outbox."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_conversation", "conversation_id", "id"),
                      Index("ix_messages_delivery", "delivery", "updated_at"),
                      Index("ix_messages_shop_created", "shop_id", "created_at"),
                      Index("uq_messages_client", "conversation_id", "client_id", unique=True))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(3))  # in | out
    sender: Mapped[str] = mapped_column(String(16))  # customer | agent | bot | system
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    type: Mapped[str] = mapped_column(String(32))
    text: Mapped[str | None] = mapped_column(Text)
    media: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    external_id: Mapped[str | None] = mapped_column(String(128))  # the channel's (WeChat's MsgId)
    client_id: Mapped[str | None] = mapped_column(String(64))  # an agent's page made it: one row per send
    delivery: Mapped[str | None] = mapped_column(String(16))  # the outbox; None: inbound, passive replies
    error_code: Mapped[str | None] = mapped_column(String(32))
    error_message: Mapped[str | None] = mapped_column(String(500))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    # A shopper message that waits for a person's answer (not one the robot answered, nor an
    # answer to a rating card): only these count in the response figures.
    expects_reply: Mapped[bool | None] = mapped_column(Boolean)
    responded_at: Mapped[datetime | None]  # when an agent first answered it
    responded_by: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    # Seconds to that answer from the message, or from the agent's assignment if that came later.
    response_seconds: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship()
    agent: Mapped[Agent | None] = relationship(foreign_keys=[agent_id])


class Assignment(Base):
    """One agent's stint with one conversation, from its assignment (routing, a pick, a transfer,
    a reassignment) until it ends or moves on: per-agent figures are read here. Keyed shop first,
    as distributed tables are; seq counts the conversation's stints, under the shop lock."""

    __tablename__ = "assignments"
    __table_args__ = (Index("ix_assignments_shop_agent", "shop_id", "agent_id", "assigned_at"),)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agents.id"))
    how: Mapped[str] = mapped_column(String(16))  # route | pick | transfer | reassign | outreach
    assigned_at: Mapped[datetime]
    first_response_at: Mapped[datetime | None]
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(String(16))  # end | transfer | reassign | requeue


class InboundReceipt(Base):
    """The idempotency ledger: one row per push WeChat sends, however often it retries it."""

    __tablename__ = "inbound_receipts"
    __table_args__ = (UniqueConstraint("channel_id", "external_id"),
                      Index("ix_inbound_receipts_message", "message_id"),
                      Index("ix_inbound_receipts_reply_message", "reply_message_id"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"))
    external_id: Mapped[str] = mapped_column(String(160))
    kind: Mapped[str] = mapped_column(String(48))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    reply_message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id"))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # events: what they carried
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

