"""Charge registries of utility providers, their accounts, the keys of the debt lookup and the payments booked there

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "charge_registries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dealer_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=6), nullable=False),
        sa.Column("period_key", sa.Integer(), nullable=False),
        sa.Column("split", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("errors", sa.Text(), nullable=False),
        sa.Column("uploaded_by", sa.String(length=200), nullable=False),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["dealer_id"], ["dealers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("charge_registries_provider", "charge_registries", ["dealer_id", "provider", "uploaded_at"])
    op.create_table(
        "charge_accounts",
        sa.Column("id", _ID, nullable=False),
        sa.Column("registry_id", sa.Integer(), nullable=False),
        sa.Column("dealer_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=40), nullable=False),
        sa.Column("period_key", sa.Integer(), nullable=False),
        sa.Column("payer", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=False),
        sa.Column("debt", sa.BigInteger(), nullable=False),
        sa.Column("services", sa.Text(), nullable=False),
        sa.Column("meters", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["dealer_id"], ["dealers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["registry_id"], ["charge_registries.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("registry_id", "account", name="charge_accounts_once"),
    )
    op.create_index("charge_accounts_current", "charge_accounts",
                    ["dealer_id", "provider", "account", "period_key", "registry_id"])
    op.create_table(
        "charge_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("dealer_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("terminal_id", sa.Integer(), nullable=True),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["dealer_id"], ["dealers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["terminal_id"], ["terminals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("key_id"),
    )
    op.create_index(op.f("ix_charge_keys_dealer_id"), "charge_keys", ["dealer_id"])
    op.create_table(
        "charge_payments",
        sa.Column("id", _ID, nullable=False),
        sa.Column("dealer_id", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("voided_until", sa.BigInteger(), nullable=False),
        sa.Column("provider", sa.String(length=64), nullable=False),
        sa.Column("account", sa.String(length=40), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("terminal", sa.String(length=40), nullable=False),
        sa.Column("operation", sa.BigInteger(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("registry_id", sa.Integer(), nullable=True),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("booked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["dealer_id"], ["dealers.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["registry_id"], ["charge_registries.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dealer_id", "idempotency_key", name="charge_payments_key"),
    )
    op.create_index("charge_payments_account", "charge_payments", ["dealer_id", "provider", "account"])


def downgrade() -> None:
    op.drop_index("charge_payments_account", table_name="charge_payments")
    op.drop_table("charge_payments")
    op.drop_index(op.f("ix_charge_keys_dealer_id"), table_name="charge_keys")
    op.drop_table("charge_keys")
    op.drop_index("charge_accounts_current", table_name="charge_accounts")
    op.drop_table("charge_accounts")
    op.drop_index("charge_registries_provider", table_name="charge_registries")
    op.drop_table("charge_registries")
