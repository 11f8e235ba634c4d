"""Initial schema: shops, channels, agents, customers, conversations, messages (the outbox), receipts.

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 17:41:12.287211
"""
from alembic import op
import sqlalchemy as sa


revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('shops',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('config_version', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_shops')),
    sa.UniqueConstraint('key', name=op.f('uq_shops_key'))
    )
    op.create_table('agents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('username', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('max_concurrent', sa.Integer(), nullable=False),
    sa.Column('weight', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('token_version', sa.Integer(), nullable=False),
    sa.Column('last_assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_agents_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_agents')),
    sa.UniqueConstraint('shop_id', 'username', name=op.f('uq_agents_shop_id'))
    )
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agents_shop_id'), ['shop_id'], unique=False)

    op.create_table('auto_replies',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('match', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.Integer(), nullable=False),
    sa.Column('reply', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_auto_replies_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auto_replies'))
    )
    with op.batch_alter_table('auto_replies', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_auto_replies_shop_id'), ['shop_id'], unique=False)

    op.create_table('channels',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('app_id', sa.String(length=64), nullable=True),
    sa.Column('app_secret', sa.String(length=128), nullable=True),
    sa.Column('token', sa.String(length=64), nullable=True),
    sa.Column('encoding_aes_key', sa.String(length=43), nullable=True),
    sa.Column('data_format', sa.String(length=8), nullable=True),
    sa.Column('secret', sa.String(length=128), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_channels_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_channels')),
    sa.UniqueConstraint('key', name=op.f('uq_channels_key'))
    )
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_channels_shop_id'), ['shop_id'], unique=False)

    op.create_table('entry_routes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('when_', sa.JSON(), nullable=False),
    sa.Column('group_key', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_entry_routes_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_entry_routes'))
    )
    with op.batch_alter_table('entry_routes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_entry_routes_shop_id'), ['shop_id'], unique=False)

    op.create_table('groups',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_groups_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_groups')),
    sa.UniqueConstraint('shop_id', 'key', name=op.f('uq_groups_shop_id'))
    )
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_groups_shop_id'), ['shop_id'], unique=False)

    op.create_table('quick_phrases',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_quick_phrases_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_quick_phrases'))
    )
    with op.batch_alter_table('quick_phrases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_quick_phrases_shop_id'), ['shop_id'], unique=False)

    op.create_table('agent_groups',
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('group_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_groups_agent_id_agents')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_agent_groups_group_id_groups')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_agent_groups_shop_id_shops')),
    sa.PrimaryKeyConstraint('agent_id', 'group_id', name=op.f('pk_agent_groups'))
    )
    with op.batch_alter_table('agent_groups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_agent_groups_shop_id'), ['shop_id'], unique=False)

    op.create_table('customers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('external_id', sa.String(length=128), nullable=False),
    sa.Column('nickname', sa.String(length=200), nullable=True),
    sa.Column('subscribed', sa.Boolean(), nullable=True),
    sa.Column('entry_scene', sa.String(length=128), nullable=True),
    sa.Column('entry_menu', sa.String(length=128), nullable=True),
    sa.Column('last_inbound_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_quota', sa.Integer(), nullable=False),
    sa.Column('exclusive_agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_customers_channel_id_channels')),
    sa.ForeignKeyConstraint(['exclusive_agent_id'], ['agents.id'], name=op.f('fk_customers_exclusive_agent_id_agents')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_customers_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customers')),
    sa.UniqueConstraint('channel_id', 'external_id', name=op.f('uq_customers_channel_id'))
    )
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_customers_shop_id'), ['shop_id'], unique=False)

    op.create_table('conversations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('group_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('queued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ended_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_customer_message_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_conversations_agent_id_agents')),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_conversations_channel_id_channels')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_conversations_customer_id_customers')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_conversations_group_id_groups')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_conversations_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_conversations'))
    )
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_conversations_agent_id'), ['agent_id'], unique=False)
        batch_op.create_index('ix_conversations_shop_state', ['shop_id', 'state'], unique=False)
        batch_op.create_index('uq_conversations_open_customer', ['customer_id'], unique=True, sqlite_where=sa.text("state != 'ended'"), postgresql_where=sa.text("state != 'ended'"))

    op.create_table('messages',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('conversation_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('direction', sa.String(length=3), nullable=False),
    sa.Column('sender', sa.String(length=16), nullable=False),
    sa.Column('agent_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('type', sa.String(length=32), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('media', sa.JSON(), nullable=True),
    sa.Column('raw', sa.JSON(), nullable=True),
    sa.Column('external_id', sa.String(length=128), nullable=True),
    sa.Column('delivery', sa.String(length=16), nullable=True),
    sa.Column('error_code', sa.String(length=32), nullable=True),
    sa.Column('error_message', sa.String(length=500), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_messages_agent_id_agents')),
    sa.ForeignKeyConstraint(['conversation_id'], ['conversations.id'], name=op.f('fk_messages_conversation_id_conversations')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_messages_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_messages'))
    )
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.create_index('ix_messages_conversation', ['conversation_id', 'id'], unique=False)
        batch_op.create_index('ix_messages_delivery', ['delivery', 'updated_at'], unique=False)

    op.create_table('inbound_receipts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('shop_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('external_id', sa.String(length=160), nullable=False),
    sa.Column('kind', sa.String(length=48), nullable=False),
    sa.Column('customer_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('reply_message_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], name=op.f('fk_inbound_receipts_channel_id_channels')),
    sa.ForeignKeyConstraint(['customer_id'], ['customers.id'], name=op.f('fk_inbound_receipts_customer_id_customers')),
    sa.ForeignKeyConstraint(['message_id'], ['messages.id'], name=op.f('fk_inbound_receipts_message_id_messages')),
    sa.ForeignKeyConstraint(['reply_message_id'], ['messages.id'], name=op.f('fk_inbound_receipts_reply_message_id_messages')),
    sa.ForeignKeyConstraint(['shop_id'], ['shops.id'], name=op.f('fk_inbound_receipts_shop_id_shops')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_receipts')),
    sa.UniqueConstraint('channel_id', 'external_id', name=op.f('uq_inbound_receipts_channel_id'))
    )
    with op.batch_alter_table('inbound_receipts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_inbound_receipts_created_at'), ['created_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('inbound_receipts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_inbound_receipts_created_at'))

    op.drop_table('inbound_receipts')
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_index('ix_messages_delivery')
        batch_op.drop_index('ix_messages_conversation')

    op.drop_table('messages')
    with op.batch_alter_table('conversations', schema=None) as batch_op:
        batch_op.drop_index('uq_conversations_open_customer', sqlite_where=sa.text("state != 'ended'"), postgresql_where=sa.text("state != 'ended'"))
        batch_op.drop_index('ix_conversations_shop_state')
        batch_op.drop_index(batch_op.f('ix_conversations_agent_id'))

    op.drop_table('conversations')
    with op.batch_alter_table('customers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_customers_shop_id'))

    op.drop_table('customers')
    with op.batch_alter_table('agent_groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agent_groups_shop_id'))

    op.drop_table('agent_groups')
    with op.batch_alter_table('quick_phrases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_quick_phrases_shop_id'))

    op.drop_table('quick_phrases')
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_groups_shop_id'))

    op.drop_table('groups')
    with op.batch_alter_table('entry_routes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_entry_routes_shop_id'))

    op.drop_table('entry_routes')
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_channels_shop_id'))

    op.drop_table('channels')
    with op.batch_alter_table('auto_replies', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_auto_replies_shop_id'))

    op.drop_table('auto_replies')
    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_agents_shop_id'))

    op.drop_table('agents')
    op.drop_table('shops')
