"""A channel's fields in one JSON column, declared per kind by the channel registry.

The columns named after one platform's fields (app_id, token, …, the widget's secret) held
every kind's fields side by side; each new kind would have added its own. Their values move
into `channels.settings`, and back on downgrade.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

FIELDS = {"app_id": 64, "app_secret": 128, "token": 64, "encoding_aes_key": 43, "data_format": 8,
          "secret": 128}

channels = sa.table("channels", sa.column("id", sa.BigInteger()), sa.column("settings", sa.JSON()),
                    *(sa.column(name, sa.String(length)) for name, length in FIELDS.items()))


def upgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        batch.add_column(sa.Column("settings", sa.JSON(), nullable=True))
    conn = op.get_bind()
    for row in conn.execute(sa.select(channels)).mappings().all():
        settings = {name: row[name] for name in FIELDS if row[name] is not None}
        conn.execute(channels.update().where(channels.c.id == row["id"]).values(settings=settings))
    with op.batch_alter_table("channels") as batch:
        batch.alter_column("settings", existing_type=sa.JSON(), nullable=False)
        for name in FIELDS:
            batch.drop_column(name)


def downgrade() -> None:
    with op.batch_alter_table("channels") as batch:
        for name, length in FIELDS.items():
            batch.add_column(sa.Column(name, sa.String(length=length), nullable=True))
    conn = op.get_bind()
    for row in conn.execute(sa.select(channels.c.id, channels.c.settings)).mappings().all():
        settings = row["settings"] or {}
        conn.execute(channels.update().where(channels.c.id == row["id"]).values(
            **{name: settings.get(name) for name in FIELDS}))
    with op.batch_alter_table("channels") as batch:
        batch.drop_column("settings")
