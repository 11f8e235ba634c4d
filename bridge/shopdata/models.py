"""The tables of shop data: what the shop's own systems tell the bridge through the shop-data
API (DESIGN.md, Shop data API) — products, orders, coupons — and the keys they call it with.

Kept apart from bridge/models.py, on the same metadata (bridge/schema.py). Keyed shop first, as
distributed tables are (DESIGN.md, Scale-out): the shop's own ids are unique within the shop.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Index, Integer, String, true
from sqlalchemy.orm import Mapped, mapped_column

from bridge.models import Base, BigId, utcnow


class ShopApiKey(Base):
    """A key the shop's systems call the shop-data API with. Only a hash of its secret is kept:
    the key is shown once, when it is made (`flask shopdata keys create`)."""

    __tablename__ = "shop_api_keys"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # the key's public part: finds the row
    secret_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the whole key, hex
    label: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Product(Base):
    __tablename__ = "products"
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    price_cents: Mapped[int] = mapped_column(BigInteger)
    image: Mapped[str | None] = mapped_column(String(1024))
    url: Mapped[str | None] = mapped_column(String(1024))
    category: Mapped[str | None] = mapped_column(String(128))
    page_path: Mapped[str | None] = mapped_column(String(1024))
    on_sale: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProductTerm(Base):
    """The search index of product titles (bridge/shopdata/terms.py): one row per term of a title."""

    __tablename__ = "product_terms"
    __table_args__ = (Index("ix_product_terms_product", "shop_id", "product_id"),
                      Index("ix_product_terms_ranked", "shop_id", "term", "on_sale", "product_id"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    term: Mapped[str] = mapped_column(String(32), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The product's, copied: search ranks a term's products from this index alone (read.search).
    on_sale: Mapped[bool] = mapped_column(Boolean, server_default=true())


class Order(Base):
    """An order as the shop's system last told it. The buyer is named by the shop's user id, a
    unionid and/or openids per channel (order_buyers); items keep what was bought at what price."""

    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_shop_user", "shop_id", "buyer_user_id", "created_at"),
                      Index("ix_orders_shop_unionid", "shop_id", "buyer_unionid", "created_at"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    number: Mapped[str] = mapped_column(String(64), primary_key=True)
    buyer_user_id: Mapped[str | None] = mapped_column(String(128))
    buyer_unionid: Mapped[str | None] = mapped_column(String(128))
    buyer_openids: Mapped[dict[str, Any]] = mapped_column(default=dict)  # channel key → openid
    items: Mapped[list[Any]] = mapped_column(JSON)  # [{product_id, quantity, price_cents}]
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[str] = mapped_column(String(16))
    logistics_company: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OrderBuyer(Base):
    """Which orders a shopper's openid on a channel bought: the lookup from a WeChat shopper."""

    __tablename__ = "order_buyers"
    __table_args__ = (Index("ix_order_buyers_order", "shop_id", "order_number"),)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id"), primary_key=True)
    openid: Mapped[str] = mapped_column(String(128), primary_key=True)
    order_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime]


class OrderLine(Base):
    """One product of an order, dated by the order: what "hot products" counts."""

    __tablename__ = "order_lines"
    __table_args__ = (Index("ix_order_lines_shop_ordered", "shop_id", "ordered_at"),)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    order_number: Mapped[str] = mapped_column(String(64), primary_key=True)
    line: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    product_id: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(Integer)
    ordered_at: Mapped[datetime]


class Coupon(Base):
    __tablename__ = "coupons"
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    coupon_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    value: Mapped[str] = mapped_column(String(64))  # as the shop words it: "¥20", "8折"
    condition: Mapped[str | None] = mapped_column(String(200))  # "满199可用"
    valid_until: Mapped[datetime]
    url: Mapped[str | None] = mapped_column(String(1024))
    page_path: Mapped[str | None] = mapped_column(String(1024))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ProductView(Base):
    """A shopper looked at a product (the widget's `viewed`, a Mini Program page): the latest
    time per product; the panel shows the most recent few."""

    __tablename__ = "product_views"
    __table_args__ = (Index("ix_product_views_customer", "shop_id", "customer_id", "viewed_at"),)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    product_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    viewed_at: Mapped[datetime]
