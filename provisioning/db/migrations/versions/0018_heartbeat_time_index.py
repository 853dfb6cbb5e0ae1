"""Heartbeats indexed by time alone: the hourly rollup reads all terminals' heartbeats of a range

Revision ID: 0018
Revises: 0017
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_heartbeats_received_at", "heartbeats", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_heartbeats_received_at", table_name="heartbeats")
