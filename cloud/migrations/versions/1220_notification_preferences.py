"""notification preferences: which events a person is emailed about, and where

Revision ID: 1220
Revises: 1210
Create Date: 2026-12-06 20:40:00.000000

The emails themselves are outbox rows (channel "email"); no table of their own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1220"
down_revision = "1210"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_notification_preferences_principal_id_principals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("principal_id", name=op.f("pk_notification_preferences")),
    )


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE channel = 'email'")
    op.drop_table("notification_preferences")
