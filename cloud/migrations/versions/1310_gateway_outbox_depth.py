"""gateway outbox depth: the depth of a gateway's disk outbox, as its latest capacity report
said, on its unit's presence row

Revision ID: 1310
Revises: 1260
Create Date: 2026-12-07 02:00:00.000000

Capacity reports carry the outbox depth since protocol 1.3; the plant's gateway health panel
shows it. Both columns stay NULL for a gateway that does not report it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1310"
down_revision = "1260"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("unit_status", sa.Column("outbox_depth", sa.Integer(), nullable=True))
    op.add_column(
        "unit_status", sa.Column("outbox_reported_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("unit_status") as batch:
        batch.drop_column("outbox_reported_at")
        batch.drop_column("outbox_depth")
