"""ticket breakdowns: when a ticket's asset stopped, so that the figures count breakdowns only

Revision ID: 1230
Revises: 1220
Create Date: 2026-12-06 23:00:00.000000

A corrective ticket's first alarm at the breakdown severity (critical, 800 by default) marks the
asset down from then until the ticket is resolved. Tickets opened before this revision are
judged by their highest severity, from their first alert.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1230"
down_revision = "1220"
branch_labels = None
depends_on = None

BREAKDOWN_SEVERITY = 800


def upgrade() -> None:
    op.add_column(
        "maintenance_tickets",
        sa.Column("broke_down_at", sa.DateTime(timezone=True), nullable=True),
    )
    tickets = sa.table(
        "maintenance_tickets",
        sa.column("kind", sa.String()),
        sa.column("severity", sa.Integer()),
        sa.column("failed_at", sa.DateTime(timezone=True)),
        sa.column("broke_down_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        tickets.update()
        .where(tickets.c.kind == "corrective", tickets.c.severity >= BREAKDOWN_SEVERITY)
        .values(broke_down_at=tickets.c.failed_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("maintenance_tickets") as batch:
        batch.drop_column("broke_down_at")
