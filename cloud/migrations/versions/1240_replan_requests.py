"""replan requests: a count of the re-plans asked for, so a plan never clears a request made
while it ran

Revision ID: 1240
Revises: 1230
Create Date: 2026-12-07 00:40:00.000000

An order confirmed while the dispatcher planned was not in that plan, and the plan's end cleared
the request the confirmation had made: the order waited for the next periodic re-plan. The plan
now clears the request only if the count is still the one it started from.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1240"
down_revision = "1230"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "scheduler_state",
        sa.Column("requests", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("scheduler_state") as batch:
        batch.drop_column("requests")
