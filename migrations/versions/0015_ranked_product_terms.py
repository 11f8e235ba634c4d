"""Product search ranks from its index alone: each title term carries its product's on_sale, so
a query's best matches are found without reading every matching product (a common term of a
100,000-product catalogue matched 39,000; read.search).

Revision ID: 0015
Revises: 0014
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("product_terms") as batch:
        batch.add_column(sa.Column("on_sale", sa.Boolean(), server_default=sa.true(), nullable=False))
    op.execute("UPDATE product_terms SET on_sale = (SELECT p.on_sale FROM products p WHERE p.shop_id = "
               "product_terms.shop_id AND p.product_id = product_terms.product_id)")
    op.create_index("ix_product_terms_ranked", "product_terms", ["shop_id", "term", "on_sale", "product_id"])


def downgrade() -> None:
    op.drop_index("ix_product_terms_ranked", "product_terms")
    with op.batch_alter_table("product_terms") as batch:
        batch.drop_column("on_sale")
