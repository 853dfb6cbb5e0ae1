"""Terminal identity: enrollment codes, certificates, nonces, heartbeats, online state, periodic jobs

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Terminals that existed before this revision start offline until their first heartbeat.
    with op.batch_alter_table("terminals") as batch_op:
        batch_op.add_column(sa.Column("online", sa.Boolean(), nullable=False, server_default=sa.false()))

    op.create_table('periodic_jobs',
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('next_run_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_run_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_run_by', sa.String(length=100), nullable=False),
    sa.Column('runs', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )

    op.create_table('seen_nonces',
    sa.Column('key_id', sa.String(length=64), nullable=False),
    sa.Column('nonce', sa.String(length=100), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key_id', 'nonce')
    )
    with op.batch_alter_table('seen_nonces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seen_nonces_seen_at'), ['seen_at'], unique=False)

    op.create_table('certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('serial', sa.String(length=64), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('pem', sa.Text(), nullable=False),
    sa.Column('not_before', sa.DateTime(timezone=True), nullable=False),
    sa.Column('not_after', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revocation_reason', sa.String(length=200), nullable=False),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('fingerprint'),
    sa.UniqueConstraint('serial')
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificates_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_terminal_id'), ['terminal_id'], unique=False)

    op.create_table('enrollment_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('lookup', sa.String(length=16), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('failed_attempts', sa.Integer(), nullable=False),
    sa.Column('state', sa.String(length=20), nullable=False),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('lookup')
    )
    with op.batch_alter_table('enrollment_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrollment_codes_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_enrollment_codes_terminal_id'), ['terminal_id'], unique=False)

    op.create_table('heartbeats',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('heartbeats', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_heartbeats_terminal_id'), ['terminal_id'], unique=False)


def downgrade() -> None:
    op.drop_table('heartbeats')
    op.drop_table('enrollment_codes')
    op.drop_table('certificates')
    op.drop_table('seen_nonces')
    op.drop_table('periodic_jobs')
    with op.batch_alter_table("terminals") as batch_op:
        batch_op.drop_column("online")
