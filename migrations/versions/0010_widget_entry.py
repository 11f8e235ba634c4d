"""The widget's entry context kept on the shopper beside the scene and menu: the product and
order the page passed, and the page itself (DESIGN.md, Entry context), shown to the agent.

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("entry_product", sa.String(128), nullable=True))
        batch.add_column(sa.Column("entry_order", sa.String(128), nullable=True))
        batch.add_column(sa.Column("entry_page", sa.String(512), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("entry_page")
        batch.drop_column("entry_order")
        batch.drop_column("entry_product")
