"""Updates: releases, each dealer's pilot group, each terminal's update state and the steps it reported

Revision ID: 0008
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = "0007a"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("version", sa.String(40), nullable=False, unique=True),
        sa.Column("channel", sa.String(20), nullable=False),
        sa.Column("target", sa.String(200), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "update_channels",
        sa.Column("dealer_id", sa.Integer(), sa.ForeignKey("dealers.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("pilot_group_id", sa.Integer(), sa.ForeignKey("terminal_groups.id"), nullable=True),
    )
    op.create_table(
        "terminal_updates",
        sa.Column("terminal_id", sa.Integer(), sa.ForeignKey("terminals.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("dealer_id", sa.Integer(), sa.ForeignKey("dealers.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("running", sa.String(40), nullable=False),
        sa.Column("target", sa.String(40), nullable=False),
        sa.Column("step", sa.String(30), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("bad", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "update_steps",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("terminal_id", sa.Integer(), sa.ForeignKey("terminals.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.String(40), nullable=False),
        sa.Column("step", sa.String(30), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
    )


def downgrade() -> None:
    for table in ("update_steps", "terminal_updates", "update_channels", "releases"):
        op.drop_table(table)
