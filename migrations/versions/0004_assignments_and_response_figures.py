"""Response figures that mean what they say: each agent's stints (assignments), and which
shopper messages wait for a person's answer, who answered, and how fast.

The conversation alone kept one first-response time for whoever served it last, so a
transfer gave negative figures; and every inbound message counted, the robot's answered
ones too. Existing rows are carried over as well as they can be read back: a conversation
that had an agent gets one stint; a message the robot answered (its receipt names a reply)
expects none; an answered message is credited to the conversation's agent.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "assignments",
        sa.Column("shop_id", BigId, nullable=False),
        sa.Column("conversation_id", BigId, nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("agent_id", BigId, nullable=False),
        sa.Column("how", sa.String(length=16), nullable=False),
        sa.Column("assigned_at", TZ, nullable=False),
        sa.Column("first_response_at", TZ, nullable=True),
        sa.Column("released_at", TZ, nullable=True),
        sa.Column("release_reason", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(["agent_id"], ["agents.id"], name="fk_assignments_agent_id_agents"),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"],
                                name="fk_assignments_conversation_id_conversations"),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name="fk_assignments_shop_id_shops"),
        sa.PrimaryKeyConstraint("shop_id", "conversation_id", "seq", name="pk_assignments"),
    )
    op.create_index("ix_assignments_shop_agent", "assignments", ["shop_id", "agent_id", "assigned_at"])
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("expects_reply", sa.Boolean(), nullable=True))
        batch.add_column(sa.Column("responded_by", BigId, nullable=True))
        batch.add_column(sa.Column("response_seconds", sa.Float(), nullable=True))
        batch.create_foreign_key("fk_messages_responded_by_agents", "agents", ["responded_by"], ["id"])
    _carry_over()


def _carry_over() -> None:
    conn = op.get_bind()
    def table(name: str, *columns: str) -> sa.TableClause:
        return sa.table(name, *(sa.column(c, TZ if c.endswith("_at") else None) for c in columns))

    conversations = table("conversations", "id", "shop_id", "agent_id", "assigned_at",
                          "first_response_at", "ended_at")
    assignments = table("assignments", "shop_id", "conversation_id", "seq", "agent_id", "how",
                        "assigned_at", "first_response_at", "released_at", "release_reason")
    messages = table("messages", "id", "conversation_id", "direction", "created_at", "responded_at",
                     "expects_reply", "responded_by", "response_seconds")
    receipts = sa.table("inbound_receipts", sa.column("message_id"), sa.column("reply_message_id"))
    served = conn.execute(sa.select(conversations).where(
        conversations.c.agent_id.is_not(None), conversations.c.assigned_at.is_not(None))).mappings().all()
    for c in served:
        conn.execute(assignments.insert().values(
            shop_id=c["shop_id"], conversation_id=c["id"], seq=1, agent_id=c["agent_id"], how="route",
            assigned_at=c["assigned_at"], first_response_at=c["first_response_at"],
            released_at=c["ended_at"], release_reason="end" if c["ended_at"] else None))
    bot_answered = sa.select(receipts.c.message_id).where(receipts.c.reply_message_id.is_not(None))
    conn.execute(messages.update().where(messages.c.direction == "in")
                 .values(expects_reply=~messages.c.id.in_(bot_answered)))
    agents = {c["id"]: (c["agent_id"], c["assigned_at"]) for c in served}
    answered = conn.execute(sa.select(messages.c.id, messages.c.conversation_id, messages.c.created_at,
                                      messages.c.responded_at)
                            .where(messages.c.responded_at.is_not(None))).all()
    for id_, conversation_id, created_at, responded_at in answered:
        agent_id, assigned_at = agents.get(conversation_id, (None, None))
        start = max(created_at, assigned_at) if assigned_at is not None else created_at
        conn.execute(messages.update().where(messages.c.id == id_).values(
            responded_by=agent_id, response_seconds=max(0.0, (responded_at - start).total_seconds())))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_constraint("fk_messages_responded_by_agents", type_="foreignkey")
        batch.drop_column("response_seconds")
        batch.drop_column("responded_by")
        batch.drop_column("expects_reply")
    op.drop_index("ix_assignments_shop_agent", table_name="assignments")
    op.drop_table("assignments")
