"""Indexes that let retention delete a large table's old rows: messages by shop and age, and
the dedupe receipts by the message they point at (each deleted message's foreign-key check
otherwise scans every receipt: 60,000 old messages took over ten minutes on PostgreSQL).

Revision ID: 0008
Revises: 0007
"""
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_messages_shop_created", "messages", ["shop_id", "created_at"])
    op.create_index("ix_inbound_receipts_message", "inbound_receipts", ["message_id"])
    op.create_index("ix_inbound_receipts_reply_message", "inbound_receipts", ["reply_message_id"])


def downgrade() -> None:
    op.drop_index("ix_inbound_receipts_reply_message", "inbound_receipts")
    op.drop_index("ix_inbound_receipts_message", "inbound_receipts")
    op.drop_index("ix_messages_shop_created", "messages")
