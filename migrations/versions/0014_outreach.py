"""Outreach (主动发起会话): each one an agent made, and the Mini Program subscribe messages a
shopper agreed to receive.

Revision ID: 0014
Revises: 0013
"""
import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str) -> sa.Column:
    return sa.Column(column, BigId, sa.ForeignKey(f"{target}.id", name=f"fk_{table}_{column}_{target}"),
                     nullable=False)


def upgrade() -> None:
    op.create_table(
        "outreaches",
        sa.Column("id", BigId, nullable=False),
        _fk("outreaches", "shop_id", "shops"), _fk("outreaches", "agent_id", "agents"),
        _fk("outreaches", "customer_id", "customers"), _fk("outreaches", "conversation_id", "conversations"),
        _fk("outreaches", "message_id", "messages"),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_outreaches"),
    )
    op.create_index("ix_outreaches_shop_created", "outreaches", ["shop_id", "created_at"])
    op.create_table(
        "subscribe_consents",
        _fk("subscribe_consents", "shop_id", "shops"), _fk("subscribe_consents", "channel_id", "channels"),
        sa.Column("openid", sa.String(128), nullable=False),
        sa.Column("template_id", sa.String(64), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "channel_id", "openid", "template_id", name="pk_subscribe_consents"),
    )


def downgrade() -> None:
    op.drop_table("subscribe_consents")
    op.drop_table("outreaches")
