"""Shop data: the shop's products (with a search index of their titles), orders (with who bought
them by openid, and their lines for "hot products"), coupons, the shoppers' product views, and
the API keys the shop's systems send them with.

Revision ID: 0011
Revises: 0010
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)


def _shop(table: str) -> sa.Column:
    return sa.Column("shop_id", BigId, sa.ForeignKey("shops.id", name=f"fk_{table}_shop_id_shops"), nullable=False)


def upgrade() -> None:
    op.create_table(
        "shop_api_keys",
        sa.Column("id", BigId, nullable=False),
        _shop("shop_api_keys"),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("label", sa.String(100), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("last_used_at", UTC, nullable=True),
        sa.Column("revoked_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_shop_api_keys"),
        sa.UniqueConstraint("prefix", name="uq_shop_api_keys_prefix"),
    )
    op.create_index("ix_shop_api_keys_shop_id", "shop_api_keys", ["shop_id"])
    op.create_table(
        "products",
        _shop("products"),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("price_cents", sa.BigInteger(), nullable=False),
        sa.Column("image", sa.String(1024), nullable=True),
        sa.Column("url", sa.String(1024), nullable=True),
        sa.Column("category", sa.String(128), nullable=True),
        sa.Column("page_path", sa.String(1024), nullable=True),
        sa.Column("on_sale", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "product_id", name="pk_products"),
    )
    op.create_table(
        "product_terms",
        _shop("product_terms"),
        sa.Column("term", sa.String(32), nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "term", "product_id", name="pk_product_terms"),
    )
    op.create_index("ix_product_terms_product", "product_terms", ["shop_id", "product_id"])
    op.create_table(
        "orders",
        _shop("orders"),
        sa.Column("number", sa.String(64), nullable=False),
        sa.Column("buyer_user_id", sa.String(128), nullable=True),
        sa.Column("buyer_unionid", sa.String(128), nullable=True),
        sa.Column("buyer_openids", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("logistics_company", sa.String(64), nullable=True),
        sa.Column("tracking_number", sa.String(64), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "number", name="pk_orders"),
    )
    op.create_index("ix_orders_shop_user", "orders", ["shop_id", "buyer_user_id", "created_at"])
    op.create_index("ix_orders_shop_unionid", "orders", ["shop_id", "buyer_unionid", "created_at"])
    op.create_table(
        "order_buyers",
        _shop("order_buyers"),
        sa.Column("channel_id", BigId, sa.ForeignKey("channels.id", name="fk_order_buyers_channel_id_channels"),
                  nullable=False),
        sa.Column("openid", sa.String(128), nullable=False),
        sa.Column("order_number", sa.String(64), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "channel_id", "openid", "order_number", name="pk_order_buyers"),
    )
    op.create_index("ix_order_buyers_order", "order_buyers", ["shop_id", "order_number"])
    op.create_table(
        "order_lines",
        _shop("order_lines"),
        sa.Column("order_number", sa.String(64), nullable=False),
        sa.Column("line", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("ordered_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "order_number", "line", name="pk_order_lines"),
    )
    op.create_index("ix_order_lines_shop_ordered", "order_lines", ["shop_id", "ordered_at"])
    op.create_table(
        "coupons",
        _shop("coupons"),
        sa.Column("coupon_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("condition", sa.String(200), nullable=True),
        sa.Column("valid_until", UTC, nullable=False),
        sa.Column("url", sa.String(1024), nullable=True),
        sa.Column("page_path", sa.String(1024), nullable=True),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "coupon_id", name="pk_coupons"),
    )
    op.create_table(
        "product_views",
        _shop("product_views"),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", name="fk_product_views_customer_id_customers"),
                  nullable=False),
        sa.Column("product_id", sa.String(64), nullable=False),
        sa.Column("viewed_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "customer_id", "product_id", name="pk_product_views"),
    )
    op.create_index("ix_product_views_customer", "product_views", ["shop_id", "customer_id", "viewed_at"])


def downgrade() -> None:
    for table in ("product_views", "coupons", "order_lines", "order_buyers", "orders", "product_terms",
                  "products", "shop_api_keys"):
        op.drop_table(table)
