"""Journal upload: the CyberPlat SESSION each uploaded delivery attempt carried (the journal keeps it since v4)

Revision ID: 0007a
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0007a"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Attempts uploaded before this revision carried the SESSION derived from their operation's ids: NULL says so.
    with op.batch_alter_table("journal_attempts") as batch_op:
        batch_op.add_column(sa.Column("session", sa.String(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("journal_attempts") as batch_op:
        batch_op.drop_column("session")
