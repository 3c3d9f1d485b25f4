"""unit clock skew: units whose clock ran ahead, whose alarms, job events and capacity reports
were kept with their times moved back

Revision ID: 1200
Revises: 1100
Create Date: 2026-12-06 20:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1200"
down_revision = "1100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unit_clock_skew",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("ahead_s", sa.Float(), nullable=False),
        sa.Column("messages", sa.BigInteger(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_unit_clock_skew")),
    )


def downgrade() -> None:
    op.drop_table("unit_clock_skew")
