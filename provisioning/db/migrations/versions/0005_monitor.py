"""Monitoring: alert rules and channels, alerts, their deliveries, hourly heartbeat aggregates, and an index on
heartbeats by terminal and time (charts, the newest payload, pruning)

Revision ID: 0005
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = "0004"
branch_labels = None
depends_on = None

# PostgreSQL: a stored payload as jsonb, NULL when it is not JSON (one malformed row must not fail a chart).
PG_PAYLOAD_FUNCTION = """
CREATE OR REPLACE FUNCTION monitor_payload(doc text) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RETURN doc::jsonb;
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$"""


def upgrade() -> None:
    op.create_table('alert_rules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('threshold', sa.Integer(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dealer_id', 'kind')
    )
    with op.batch_alter_table('alert_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_rules_dealer_id'), ['dealer_id'], unique=False)

    op.create_table('alert_channels',
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('webhook_url', sa.String(length=500), nullable=False),
    sa.Column('webhook_secret', sa.String(length=200), nullable=False),
    sa.Column('emails', sa.String(length=1000), nullable=False),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dealer_id')
    )

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('close_detail', sa.String(length=500), nullable=False),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alerts_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_opened_at'), ['opened_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_terminal_id'), ['terminal_id'], unique=False)
        batch_op.create_index('ux_alerts_open', ['terminal_id', 'kind'], unique=True,
                              sqlite_where=sa.text('closed_at IS NULL'),
                              postgresql_where=sa.text('closed_at IS NULL'))

    op.create_table('alert_deliveries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('alert_id', sa.Integer(), nullable=False),
    sa.Column('event', sa.String(length=10), nullable=False),
    sa.Column('channel', sa.String(length=10), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=300), nullable=False),
    sa.ForeignKeyConstraint(['alert_id'], ['alerts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('alert_id', 'event', 'channel')
    )
    with op.batch_alter_table('alert_deliveries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_deliveries_alert_id'), ['alert_id'], unique=False)
        batch_op.create_index('ix_alert_deliveries_due', ['state', 'next_attempt_at'], unique=False)

    op.create_table('heartbeat_hours',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('hour', sa.BigInteger(), nullable=False),
    sa.Column('samples', sa.Integer(), nullable=False),
    sa.Column('cassette_fill', sa.Float(), nullable=True),
    sa.Column('outbox_depth', sa.Integer(), nullable=True),
    sa.Column('last_operation', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('terminal_id', 'hour')
    )

    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.create_index('ix_heartbeats_terminal_time', ['terminal_id', 'received_at'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_PAYLOAD_FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS monitor_payload(text)")
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.drop_index('ix_heartbeats_terminal_time')
    op.drop_table('heartbeat_hours')
    op.drop_table('alert_deliveries')
    op.drop_table('alerts')
    op.drop_table('alert_channels')
    op.drop_table('alert_rules')
