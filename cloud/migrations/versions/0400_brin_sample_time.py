"""telemetry samples: a BRIN time index on PostgreSQL

Revision ID: 0400
Revises: 0300
Create Date: 2026-11-29 12:20:00.000000

The samples' only index serves pruning by time. Samples arrive roughly in time order, so block
ranges find them as well as a B-tree, at next to no cost per inserted row. SQLite keeps its
B-tree (it has no other kind).
"""

from __future__ import annotations

from alembic import op

revision = "0400"
down_revision = "0300"
branch_labels = None
depends_on = None

INDEX = "ix_telemetry_samples_time"
TABLE = "telemetry_samples"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INDEX, table_name=TABLE)
    op.create_index(INDEX, TABLE, ["time"], postgresql_using="brin")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.drop_index(INDEX, table_name=TABLE)
    op.create_index(INDEX, TABLE, ["time"])
