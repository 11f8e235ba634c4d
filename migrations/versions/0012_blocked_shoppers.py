"""Blocked shoppers (拉黑): when, why and by whom a shopper was blocked. Their messages are kept but
neither answered nor routed nor counted; the webhook reads a shop's few blocked shoppers by the
key, shop first.

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "customer_blocks",
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id", name="fk_customer_blocks_shop_id_shops"), nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", name="fk_customer_blocks_customer_id_customers"),
                  nullable=False),
        sa.Column("agent_id", BigId, sa.ForeignKey("agents.id", name="fk_customer_blocks_agent_id_agents"),
                  nullable=True),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "customer_id", name="pk_customer_blocks"),
    )


def downgrade() -> None:
    op.drop_table("customer_blocks")
