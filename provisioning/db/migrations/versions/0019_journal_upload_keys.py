"""Cheaper journal upload rows: no foreign keys to terminals and dealers (the ingest path takes both ids from the
authenticated link, never from the batch; a per-row key check cost a fifth of PostgreSQL's upload work), and the
versions, bills and attempts keyed by their natural key alone (no surrogate id: one index and one sequence call
less per row)

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
# table → (its unique key's name, the key's columns): the key becomes the primary key
NATURAL = {
    "journal_operation_versions": ("journal_versions_key", ["terminal_id", "op_key", "change_seq"]),
    "journal_bills": ("journal_bills_key", ["terminal_id", "op_key", "local_id"]),
    "journal_attempts": ("journal_attempts_key", ["terminal_id", "op_key", "local_id"]),
}
# SQLite's keys are unnamed: batch mode names them by this convention so they can be dropped
_CONVENTION = {"fk": "fk_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table in TABLES:
        with op.batch_alter_table(table, naming_convention=_CONVENTION) as batch_op:
            for fk in inspector.get_foreign_keys(table):
                name = fk["name"] or f"fk_{table}_{fk['constrained_columns'][0]}"
                batch_op.drop_constraint(name, type_="foreignkey")
    for table, (key, columns) in NATURAL.items():
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(key, type_="unique")
            batch_op.drop_column("id")
            batch_op.create_primary_key(f"{table}_pkey", columns)


def downgrade() -> None:
    for table, (key, columns) in NATURAL.items():
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_constraint(f"{table}_pkey", type_="primary")
        # PostgreSQL numbers the rows it holds as it adds the column; SQLite's INTEGER PRIMARY KEY is the rowid
        numbered = [sa.Identity()] if op.get_bind().dialect.name == "postgresql" else []
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), *numbered,
                                          nullable=False))
            batch_op.create_primary_key(f"{table}_pkey", ["id"])
            batch_op.create_unique_constraint(key, columns)
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            batch_op.create_foreign_key(f"{table}_terminal_id_fkey", "terminals", ["terminal_id"], ["id"],
                                        ondelete="CASCADE")
            if table == "journal_operations":
                batch_op.create_foreign_key(f"{table}_dealer_id_fkey", "dealers", ["dealer_id"], ["id"],
                                            ondelete="CASCADE")
