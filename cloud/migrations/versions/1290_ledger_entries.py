"""ledger entries: who earned what on a delivered order

Revision ID: 1290
Revises: 1310
Create Date: 2026-12-07 02:00:00.000000

Written once when an order is delivered: the network's fee (line 0) and each member's revenue
by the agreed terms with its machine time and cost (lines 1…).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1290"
down_revision = "1310"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger_entries",
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("line", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("work_s", sa.Float(), nullable=False),
        sa.Column("hourly_rate", sa.Float(), nullable=True),
        sa.Column("cost", sa.Float(), nullable=False),
        sa.Column("share", sa.Float(), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("basis", sa.String(length=16), nullable=False),
        sa.Column("written_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_ledger_entries_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "line", name=op.f("pk_ledger_entries")),
    )
    op.create_index(op.f("ix_ledger_entries_unit_id"), "ledger_entries", ["unit_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_ledger_entries_unit_id"), table_name="ledger_entries")
    op.drop_table("ledger_entries")
