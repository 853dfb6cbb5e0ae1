"""Pushed configuration: documents, immutable versions, assignments, gateway secrets, signing keys, reports

Revision ID: 0004
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('config_documents',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('dealer_id', 'name')
    )
    with op.batch_alter_table('config_documents', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_config_documents_dealer_id'), ['dealer_id'], unique=False)

    op.create_table('dealer_signing_keys',
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('key_ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('certificate_pem', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('dealer_id')
    )
    op.create_table('config_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('document_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('comment', sa.String(length=300), nullable=False),
    sa.Column('author', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['document_id'], ['config_documents.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('document_id', 'number')
    )
    with op.batch_alter_table('config_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_config_versions_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_config_versions_document_id'), ['document_id'], unique=False)

    op.create_table('config_assignments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=True),
    sa.Column('group_id', sa.Integer(), nullable=True),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('assigned_by', sa.String(length=200), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['group_id'], ['terminal_groups.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['config_versions.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('group_id'),
    sa.UniqueConstraint('terminal_id')
    )
    with op.batch_alter_table('config_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_config_assignments_dealer_id'), ['dealer_id'], unique=False)

    op.create_table('config_reports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=True),
    sa.Column('etag', sa.String(length=80), nullable=False),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('config_reports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_config_reports_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_config_reports_terminal_id'), ['terminal_id'], unique=False)

    op.create_table('gateway_secrets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('dealer_id', sa.Integer(), nullable=False),
    sa.Column('terminal_id', sa.Integer(), nullable=False),
    sa.Column('gateway', sa.String(length=60), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('set_by', sa.String(length=200), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['dealer_id'], ['dealers.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['terminal_id'], ['terminals.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('terminal_id', 'gateway', 'name')
    )
    with op.batch_alter_table('gateway_secrets', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_gateway_secrets_dealer_id'), ['dealer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_gateway_secrets_terminal_id'), ['terminal_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('gateway_secrets', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_gateway_secrets_terminal_id'))
        batch_op.drop_index(batch_op.f('ix_gateway_secrets_dealer_id'))

    op.drop_table('gateway_secrets')
    with op.batch_alter_table('config_reports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_config_reports_terminal_id'))
        batch_op.drop_index(batch_op.f('ix_config_reports_dealer_id'))

    op.drop_table('config_reports')
    with op.batch_alter_table('config_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_config_assignments_dealer_id'))

    op.drop_table('config_assignments')
    with op.batch_alter_table('config_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_config_versions_document_id'))
        batch_op.drop_index(batch_op.f('ix_config_versions_dealer_id'))

    op.drop_table('config_versions')
    op.drop_table('dealer_signing_keys')
    with op.batch_alter_table('config_documents', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_config_documents_dealer_id'))

    op.drop_table('config_documents')
