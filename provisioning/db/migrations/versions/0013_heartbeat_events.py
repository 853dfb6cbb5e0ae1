"""Heartbeats: the state changes terminals report (stored once each), and each terminal's latest report

Revision ID: 0013
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing terminals have no report until their next heartbeat.
    with op.batch_alter_table("terminals") as batch_op:
        batch_op.add_column(sa.Column("last_heartbeat", sa.Text(), nullable=True))
    op.create_table('terminal_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('detail', sa.String(length=500), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('terminal_id', 'event_id')
    )
    with op.batch_alter_table('terminal_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_terminal_events_at'), ['at'], unique=False)
        batch_op.create_index(batch_op.f('ix_terminal_events_terminal_id'), ['terminal_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('terminal_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_terminal_events_terminal_id'))
        batch_op.drop_index(batch_op.f('ix_terminal_events_at'))
    op.drop_table('terminal_events')
    with op.batch_alter_table("terminals") as batch_op:
        batch_op.drop_column("last_heartbeat")
