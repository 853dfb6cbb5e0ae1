"""Uploaded operations keep the terminal's input fields and details (payee, fee rule, split, readings, fiscal data)

Revision ID: 0014
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Operations uploaded before this keep '{}' until the terminal's next change of them is uploaded.
    with op.batch_alter_table("journal_operations") as batch_op:
        batch_op.add_column(sa.Column("fields", sa.Text(), nullable=False, server_default="{}"))
        batch_op.add_column(sa.Column("details", sa.Text(), nullable=False, server_default="{}"))


def downgrade() -> None:
    with op.batch_alter_table("journal_operations") as batch_op:
        batch_op.drop_column("details")
        batch_op.drop_column("fields")
