"""One row per agent sign-in: logout ends that one token (not every token of the agent, as
a password change does), and when each client was last heard from, which is the agent's
presence: an agent marked online whose clients have all gone quiet gets no new shoppers.

Tokens signed before this revision name no sign-in and are refused: agents log in again.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "logins",
        sa.Column("shop_id", BigId, nullable=False),
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("agent_id", BigId, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
        sa.Column("last_seen_at", TZ, nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name="fk_logins_agent_id_agents"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name="fk_logins_shop_id_shops"),
        sa.PrimaryKeyConstraint("shop_id", "id", name="pk_logins"),
    )
    op.create_index("ix_logins_shop_seen", "logins", ["shop_id", "last_seen_at"])
    op.create_index("ix_logins_created_at", "logins", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_logins_created_at", table_name="logins")
    op.drop_index("ix_logins_shop_seen", table_name="logins")
    op.drop_table("logins")
