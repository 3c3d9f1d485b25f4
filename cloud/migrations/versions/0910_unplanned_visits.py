"""unplanned visits: an assigned ticket the route planner could not place keeps a row with why

Revision ID: 0910
Revises: 0900
Create Date: 2026-12-06 17:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0910"
down_revision = "0900"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("maintenance_route_stops") as batch:
        batch.add_column(sa.Column("unplanned", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("maintenance_route_stops") as batch:
        batch.drop_column("unplanned")
