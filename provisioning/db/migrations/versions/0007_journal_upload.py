"""Journal upload: operations (latest state and every version), bills, attempts, incidents, encashments, positions

Revision ID: 0007
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('journal_attempts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('op_key', sa.String(length=64), nullable=False),
    sa.Column('local_id', sa.BigInteger(), nullable=False),
    sa.Column('gateway', sa.String(length=64), nullable=False),
    sa.Column('verb', sa.String(length=20), nullable=False),
    sa.Column('started_at', sa.String(length=40), nullable=False),
    sa.Column('finished_at', sa.String(length=40), nullable=True),
    sa.Column('outcome', sa.String(length=40), nullable=True),
    sa.Column('code', sa.String(length=100), nullable=True),
    sa.Column('message', sa.Text(), nullable=True),
    sa.Column('external_id', sa.String(length=100), nullable=True),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('terminal_id', 'op_key', 'local_id', name='journal_attempts_key')
    )
    with op.batch_alter_table('journal_attempts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_journal_attempts_external_id'), ['external_id'], unique=False)

    op.create_table('journal_bills',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('op_key', sa.String(length=64), nullable=False),
    sa.Column('local_id', sa.BigInteger(), nullable=False),
    sa.Column('denomination', sa.BigInteger(), nullable=False),
    sa.Column('validator', sa.String(length=40), nullable=False),
    sa.Column('stacked_at', sa.String(length=40), nullable=False),
    sa.Column('encashment', sa.BigInteger(), nullable=True),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('terminal_id', 'op_key', 'local_id', name='journal_bills_key')
    )
    op.create_table('journal_encashments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('local_id', sa.BigInteger(), nullable=False),
    sa.Column('closed_at', sa.String(length=40), nullable=False),
    sa.Column('reason', sa.String(length=200), nullable=False),
    sa.Column('counts', sa.Text(), nullable=False),
    sa.Column('total', sa.BigInteger(), nullable=False),
    sa.Column('bill_count', sa.Integer(), nullable=False),
    sa.Column('cassette_counts', sa.Text(), nullable=True),
    sa.Column('difference', sa.Text(), nullable=True),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('terminal_id', 'local_id', 'closed_at', name='journal_encashments_key')
    )
    op.create_table('journal_incidents',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('local_id', sa.BigInteger(), nullable=False),
    sa.Column('at', sa.String(length=40), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('operation', sa.BigInteger(), nullable=True),
    sa.Column('op_key', sa.String(length=64), nullable=True),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=True),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('terminal_id', 'local_id', 'at', name='journal_incidents_key')
    )
    with op.batch_alter_table('journal_incidents', schema=None) as batch_op:
        batch_op.create_index('journal_incidents_operation', ['terminal_id', 'op_key'], unique=False)

    op.create_table('journal_operation_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('op_key', sa.String(length=64), nullable=False),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('record', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('terminal_id', 'op_key', 'change_seq', name='journal_versions_key')
    )
    op.create_table('journal_operations',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('operation', sa.BigInteger(), nullable=False),
    sa.Column('op_key', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.Column('provider', sa.String(length=64), nullable=False),
    sa.Column('account', sa.String(length=100), nullable=False),
    sa.Column('currency', sa.String(length=3), nullable=False),
    sa.Column('cash', sa.BigInteger(), nullable=False),
    sa.Column('fee', sa.BigInteger(), nullable=True),
    sa.Column('credited', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.String(length=40), nullable=False),
    sa.Column('created_utc', sa.DateTime(timezone=True), nullable=False),
    sa.Column('committed_at', sa.String(length=40), nullable=True),
    sa.Column('finished_at', sa.String(length=40), nullable=True),
    sa.Column('commit_reason', sa.String(length=200), nullable=True),
    sa.Column('gateway', sa.String(length=64), nullable=True),
    sa.Column('external_id', sa.String(length=100), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_outcome', sa.String(length=40), nullable=True),
    sa.Column('attention_reason', sa.Text(), nullable=True),
    sa.Column('receipt_status', sa.String(length=20), nullable=False),
    sa.Column('offline', sa.Boolean(), nullable=False),
    sa.Column('change_seq', sa.BigInteger(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('terminal_id', 'operation', 'op_key', name='journal_operations_key')
    )
    with op.batch_alter_table('journal_operations', schema=None) as batch_op:
        batch_op.create_index('journal_operations_account', ['dealer_id', 'account', 'created_utc'], unique=False)
        batch_op.create_index('journal_operations_created', ['dealer_id', 'created_utc'], unique=False)
        batch_op.create_index('journal_operations_external', ['external_id'], unique=False)
        batch_op.create_index('journal_operations_state', ['dealer_id', 'state'], unique=False)

    op.create_table('journal_positions',
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('acknowledged', sa.BigInteger(), nullable=False),
    sa.Column('rows', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('terminal_id')
    )


def downgrade() -> None:
    op.drop_table('journal_positions')
    with op.batch_alter_table('journal_operations', schema=None) as batch_op:
        batch_op.drop_index('journal_operations_state')
        batch_op.drop_index('journal_operations_external')
        batch_op.drop_index('journal_operations_created')
        batch_op.drop_index('journal_operations_account')

    op.drop_table('journal_operations')
    op.drop_table('journal_operation_versions')
    with op.batch_alter_table('journal_incidents', schema=None) as batch_op:
        batch_op.drop_index('journal_incidents_operation')

    op.drop_table('journal_incidents')
    op.drop_table('journal_encashments')
    op.drop_table('journal_bills')
    with op.batch_alter_table('journal_attempts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_journal_attempts_external_id'))

    op.drop_table('journal_attempts')
