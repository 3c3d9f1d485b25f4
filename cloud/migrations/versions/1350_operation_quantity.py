"""operation quantity: the parts an order's operation asks its machine for

Revision ID: 1350
Revises: 1340
Create Date: 2026-12-07 09:00:00.000000

A call for tenders' line (40 brackets) or a configured product ordered several times is made as
one batch per step; the job order dispatched for it now asks for that many, where it asked for
one. The operations already made asked for one: they keep 1, which is what their job orders
said and what their machines counted to.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1350"
down_revision = "1340"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "order_operations",
        sa.Column("quantity", sa.Integer(), nullable=False, server_default="1"),
    )


def downgrade() -> None:
    with op.batch_alter_table("order_operations") as batch:
        batch.drop_column("quantity")
