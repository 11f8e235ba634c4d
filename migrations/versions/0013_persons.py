"""One shopper across channels: a person (the shop's user id, a unionid) and the channel
identities (openids) the shop linked to it. The customers rows stay as they are — a link is a
lookup beside them, so unlinking loses nothing.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "persons",
        sa.Column("id", BigId, nullable=False),
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id", name="fk_persons_shop_id_shops"), nullable=False),
        sa.Column("user_id", sa.String(128), nullable=True),
        sa.Column("unionid", sa.String(128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_persons"),
        sa.UniqueConstraint("shop_id", "user_id", name="uq_persons_shop_user"),
        sa.UniqueConstraint("shop_id", "unionid", name="uq_persons_shop_unionid"),
    )
    op.create_table(
        "person_identities",
        sa.Column("shop_id", BigId, sa.ForeignKey("shops.id", name="fk_person_identities_shop_id_shops"),
                  nullable=False),
        sa.Column("channel_id", BigId, sa.ForeignKey("channels.id", name="fk_person_identities_channel_id_channels"),
                  nullable=False),
        sa.Column("external_id", sa.String(128), nullable=False),
        sa.Column("person_id", BigId, sa.ForeignKey("persons.id", name="fk_person_identities_person_id_persons"),
                  nullable=False),
        sa.PrimaryKeyConstraint("shop_id", "channel_id", "external_id", name="pk_person_identities"),
    )
    op.create_index("ix_person_identities_person", "person_identities", ["shop_id", "person_id"])


def downgrade() -> None:
    op.drop_table("person_identities")
    op.drop_table("persons")
