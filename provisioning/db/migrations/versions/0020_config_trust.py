"""Configuration trust: each terminal's bundle sequence (replay protection), the dealer signing key's generation
(rotation), and offline alert thresholds in whole minutes (the rule editor now takes minutes)

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("config_bundle_sequences",
                    sa.Column("terminal_id", sa.Integer(), nullable=False),
                    sa.Column("sequence", sa.Integer(), nullable=False),
                    sa.Column("content_sha256", sa.String(length=64), nullable=False),
                    sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"], ondelete="CASCADE"),
                    sa.PrimaryKeyConstraint("terminal_id"))
    with op.batch_alter_table("dealer_signing_keys") as batch_op:
        batch_op.add_column(sa.Column("generation", sa.Integer(), nullable=False, server_default="1"))
    # Stored in seconds still (the alert check's unit); a threshold the editor cannot show in minutes is rounded up.
    op.execute("UPDATE alert_rules SET threshold = ((threshold + 59) / 60) * 60 WHERE kind = 'offline'")


def downgrade() -> None:
    with op.batch_alter_table("dealer_signing_keys") as batch_op:
        batch_op.drop_column("generation")
    op.drop_table("config_bundle_sequences")
