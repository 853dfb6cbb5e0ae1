"""Themes: uploaded theme packs, their preview pictures, and the pack each terminal is to show

Revision ID: 0012
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "theme_packs",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("dealer_id", sa.Integer(), sa.ForeignKey("dealers.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("slug", sa.String(40), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("name_ru", sa.String(200), nullable=False),
        sa.Column("name_en", sa.String(200), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("uploaded_by", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("dealer_id", "sha256"),
    )
    op.create_table(
        "theme_previews",
        sa.Column("pack_id", sa.Integer(), sa.ForeignKey("theme_packs.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("shot", sa.String(40), primary_key=True),
        sa.Column("png", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "terminal_themes",
        sa.Column("terminal_id", sa.Integer(), sa.ForeignKey("terminals.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("dealer_id", sa.Integer(), sa.ForeignKey("dealers.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("pack_id", sa.Integer(), sa.ForeignKey("theme_packs.id", ondelete="CASCADE"), nullable=False),
        sa.Column("assigned_by", sa.String(200), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("applied_sha256", sa.String(64), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("terminal_themes")
    op.drop_table("theme_previews")
    op.drop_table("theme_packs")
