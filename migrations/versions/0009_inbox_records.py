"""What the inbox keeps: an agent's send made once (messages.client_id, unique per
conversation), notes and tags on shoppers (customer_notes, tags, customer_tags) and each
agent's own quick phrases (agent_phrases).

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
UTC = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("client_id", sa.String(64), nullable=True))
    op.create_index("uq_messages_client", "messages", ["conversation_id", "client_id"], unique=True)
    op.create_table(
        "customer_notes",
        sa.Column("id", BigId, nullable=False),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id", name="fk_customer_notes_shop_id_shops"), nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", name="fk_customer_notes_customer_id_customers"),
                  nullable=False),
        sa.Column("agent_id", BigId, sa.ForeignKey("agents.id", name="fk_customer_notes_agent_id_agents"), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_customer_notes"),
    )
    op.create_index("ix_customer_notes_customer", "customer_notes", ["shop_id", "customer_id", "id"])
    op.create_table(
        "tags",
        sa.Column("id", BigId, nullable=False),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id", name="fk_tags_shop_id_shops"), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tags"),
        sa.UniqueConstraint("shop_id", "name", name="uq_tags_shop_id"),
    )
    op.create_table(
        "customer_tags",
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id", name="fk_customer_tags_shop_id_shops"), nullable=False),
        sa.Column("customer_id", BigId, sa.ForeignKey("customers.id", name="fk_customer_tags_customer_id_customers"),
                  nullable=False),
        sa.Column("tag_id", BigId, sa.ForeignKey("tags.id", name="fk_customer_tags_tag_id_tags"), nullable=False),
        sa.Column("agent_id", BigId, sa.ForeignKey("agents.id", name="fk_customer_tags_agent_id_agents"), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "customer_id", "tag_id", name="pk_customer_tags"),
    )
    op.create_index("ix_customer_tags_tag", "customer_tags", ["shop_id", "tag_id"])
    op.create_table(
        "agent_phrases",
        sa.Column("id", BigId, nullable=False),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id", name="fk_agent_phrases_shop_id_shops"), nullable=False),
        sa.Column("agent_id", BigId, sa.ForeignKey("agents.id", name="fk_agent_phrases_agent_id_agents"), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("updated_at", UTC, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agent_phrases"),
    )
    op.create_index("ix_agent_phrases_agent", "agent_phrases", ["shop_id", "agent_id", "position"])


def downgrade() -> None:
    op.drop_index("ix_agent_phrases_agent", "agent_phrases")
    op.drop_table("agent_phrases")
    op.drop_index("ix_customer_tags_tag", "customer_tags")
    op.drop_table("customer_tags")
    op.drop_table("tags")
    op.drop_index("ix_customer_notes_customer", "customer_notes")
    op.drop_table("customer_notes")
    op.drop_index("uq_messages_client", "messages")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("client_id")
