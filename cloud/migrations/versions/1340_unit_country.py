"""unit country: the country a member unit is in, for local-content rules by country; and an
index for the dispatcher's look for expired quotes

Revision ID: 1340
Revises: 1330
Create Date: 2026-12-08 01:00:00.000000

Nullable, and left NULL for the units already registered: nothing in the registry says where
they are by country (their coordinates could, but a border is not a radius). A unit without a
country never counts as in a rule's country; the coordinator sets it (PATCH /api/units/{id}).

Before every tick the dispatcher looks for open quotes past their validity (to mark them
expired): ix_quotes_status_valid_until keeps that from reading every quote ever made.

The older schema has no place for a unit's country: while a unit has one, downgrading is
refused before anything changes, saying how many (:func:`downgrade_refusal`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection

from cloud.exceptions import MigrationRefused

revision = "1340"
down_revision = "1330"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("units", sa.Column("country", sa.String(length=2), nullable=True))
    op.create_index("ix_quotes_status_valid_until", "quotes", ["status", "valid_until"])


_SHOWN = 5  # units named in a refusal


def downgrade_refusal(connection: Connection) -> str | None:
    """What undoing this revision would lose, in words; None when nothing."""
    units = connection.execute(
        sa.text("SELECT id, country FROM units WHERE country IS NOT NULL ORDER BY id")
    ).all()
    if not units:
        return None
    shown = ", ".join(f"{unit} in {country}" for unit, country in units[:_SHOWN])
    more = f", … {len(units) - _SHOWN} more" if len(units) > _SHOWN else ""
    return (
        f"would lose the country of {len(units)} unit{'' if len(units) == 1 else 's'} "
        f"({shown}{more}): the older schema has no place for it. Clear them first if they may "
        "be lost (UPDATE units SET country = NULL)"
    )


def downgrade() -> None:
    refusal = downgrade_refusal(op.get_bind())
    if refusal:
        raise MigrationRefused(f"revision {revision} {refusal}; it was not undone")
    op.drop_index("ix_quotes_status_valid_until", table_name="quotes")
    with op.batch_alter_table("units") as batch:
        batch.drop_column("country")
