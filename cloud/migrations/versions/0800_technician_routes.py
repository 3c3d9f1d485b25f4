"""technician routes: the planned stops of every technician's visits

Revision ID: 0800
Revises: 0700
Create Date: 2026-12-06 17:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0800"
down_revision = "0700"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_route_stops",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("technician_id", sa.String(length=64), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("came_from", sa.String(length=200), nullable=False),
        sa.Column("arrive_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("start_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("travel_minutes", sa.Integer(), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=False),
        sa.Column("late_minutes", sa.Integer(), nullable=False),
        sa.Column("in_progress", sa.Boolean(), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["maintenance_tickets.id"],
            name=op.f("fk_maintenance_route_stops_ticket_id_maintenance_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_maintenance_route_stops")),
    )
    op.create_index(
        op.f("ix_maintenance_route_stops_technician_id"),
        "maintenance_route_stops",
        ["technician_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_maintenance_route_stops_technician_id"), table_name="maintenance_route_stops"
    )
    op.drop_table("maintenance_route_stops")
