"""Uploaded journal rows no longer carry foreign keys to terminals and dealers: their ids come from the
authenticated link, never from the batch, and a per-row key check cost a fifth of PostgreSQL's upload work

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

TABLES = ("journal_operations", "journal_operation_versions", "journal_bills", "journal_attempts",
          "journal_incidents", "journal_encashments")
# SQLite's keys are unnamed: batch mode names them by this convention so they can be dropped
_CONVENTION = {"fk": "fk_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table in TABLES:
        with op.batch_alter_table(table, naming_convention=_CONVENTION) as batch_op:
            for fk in inspector.get_foreign_keys(table):
                name = fk["name"] or f"fk_{table}_{fk['constrained_columns'][0]}"
                batch_op.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_foreign_key(f"{table}_terminal_id_fkey", "terminals", ["terminal_id"], ["id"],
                                        ondelete="CASCADE")
            if table == "journal_operations":
                batch_op.create_foreign_key(f"{table}_dealer_id_fkey", "dealers", ["dealer_id"], ["id"],
                                            ondelete="CASCADE")
