"""Terminals: the highest operation number the service has ever seen from each (restore detection)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing terminals start at 0: their next heartbeat reports their journal's number.
    with op.batch_alter_table("terminals") as batch_op:
        batch_op.add_column(sa.Column("highest_operation", sa.BigInteger(), nullable=False,
                                      server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("terminals") as batch_op:
        batch_op.drop_column("highest_operation")
