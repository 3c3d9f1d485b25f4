"""planned setups: when an operation's change-over starts on its machine, before its work

Revision ID: 0900
Revises: 0800
Create Date: 2026-12-06 17:35:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0900"
down_revision = "0800"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("order_operations") as batch:
        batch.add_column(
            sa.Column("planned_setup_start", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("order_operations") as batch:
        batch.drop_column("planned_setup_start")
