"""The tables of what agents keep about a shopper (bridge/customers/).

Kept apart from bridge/models.py, on the same metadata (bridge/schema.py). Keyed shop first,
as distributed tables are (DESIGN.md, Scale-out).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bridge.models import Agent, Base, BigId, utcnow


class CustomerNote(Base):
    """One note on a shopper, by one agent, timestamped; a shopper has as many as agents write."""

    __tablename__ = "customer_notes"
    __table_args__ = (Index("ix_customer_notes_customer", "shop_id", "customer_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    agent: Mapped[Agent | None] = relationship()


class Tag(Base):
    """A word of the shop's tag vocabulary (e.g. 老客户, 爱砍价), shared by all its agents."""

    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("shop_id", "name"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    name: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerTag(Base):
    """A tag on a shopper: who put it there and when."""

    __tablename__ = "customer_tags"
    __table_args__ = (Index("ix_customer_tags_tag", "shop_id", "tag_id"),)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    tag_id: Mapped[int] = mapped_column(ForeignKey("tags.id"), primary_key=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    tag: Mapped[Tag] = relationship()


class CustomerBlock(Base):
    """A blocked shopper (拉黑): when, why, by whom. Their messages are kept, never answered,
    routed or counted (customers/blocks.py); lifting the block deletes the row."""

    __tablename__ = "customer_blocks"
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id"))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    agent: Mapped[Agent | None] = relationship()


class Person(Base):
    """One shopper as the shop knows them, across channels (customers/people.py): the shop's own
    user id and the unionid it linked, and the channel identities (PersonIdentity) it named."""

    __tablename__ = "persons"
    __table_args__ = (UniqueConstraint("shop_id", "user_id", name="uq_persons_shop_user"),
                      UniqueConstraint("shop_id", "unionid", name="uq_persons_shop_unionid"))
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    user_id: Mapped[str | None] = mapped_column(String(128))  # a widget shopper signed as u_<user_id> is this one
    unionid: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class PersonIdentity(Base):
    """A channel identity (an openid on a channel) the shop linked to a person; the customer row
    it names may not exist yet (the shopper never wrote there), and joins when it does."""

    __tablename__ = "person_identities"
    __table_args__ = (Index("ix_person_identities_person", "shop_id", "person_id"),)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), primary_key=True)
    external_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("persons.id"))
