"""Registry deliveries retried with back-off (attempts, next attempt); registry files' digest, fingerprint and amendment mark

Revision ID: 0021
Revises: 0020
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("registry_deliveries") as table:
        table.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("registry_files") as table:
        table.add_column(sa.Column("digest", sa.String(length=64), nullable=True))
        table.add_column(sa.Column("fingerprint", sa.String(length=64), nullable=True))
        table.add_column(sa.Column("amendment", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("registry_files") as table:
        table.drop_column("amendment")
        table.drop_column("fingerprint")
        table.drop_column("digest")
    with op.batch_alter_table("registry_deliveries") as table:
        table.drop_column("next_attempt_at")
        table.drop_column("attempts")
