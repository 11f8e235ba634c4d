"""Routing and session lifecycle: response timing, ratings, routing bookkeeping.

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("awaiting_reply_since", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("first_response_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("routed_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("end_reason", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("rating_invited_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("rating_score", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("rating_comment", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_conversations_customer_ended", ["customer_id", "ended_at"], unique=False)
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("rating_conversation_id", BigId, nullable=True))
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("responded_at")
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("rating_conversation_id")
    with op.batch_alter_table("conversations") as batch:
        batch.drop_index("ix_conversations_customer_ended")
        for name in ("rated_at", "rating_comment", "rating_score", "rating_invited_at", "end_reason",
                     "routed_at", "first_response_at", "awaiting_reply_since"):
            batch.drop_column(name)
