"""operation quantity: the parts an order's operation asks its machine for

Revision ID: 1350
Revises: 1340
Create Date: 2026-12-07 09:00:00.000000

A call for tenders' line (40 brackets) or a configured product ordered several times is made as
one batch per step; the job order dispatched for it now asks for that many, where it asked for
one. The operations already made asked for one: they keep 1, which is what their job orders
said and what their machines counted to.

The older schema has an operation ask for one part: while an operation asks for more (or
fewer), downgrading is refused before anything changes, saying how many
(:func:`downgrade_refusal`).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection

from cloud.exceptions import MigrationRefused

revision = "1350"
down_revision = "1340"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "order_operations",
        sa.Column("quantity", sa.Integer(), nullable=False, server_default="1"),
    )


_SHOWN = 5  # orders named in a refusal


def downgrade_refusal(connection: Connection) -> str | None:
    """What undoing this revision would lose, in words; None when nothing."""
    operations = connection.execute(
        sa.text(
            "SELECT order_id, step, quantity FROM order_operations WHERE quantity <> 1 "
            "ORDER BY order_id, position"
        )
    ).all()
    if not operations:
        return None
    shown = ", ".join(
        f"{order} {step} x {quantity}" for order, step, quantity in operations[:_SHOWN]
    )
    more = f", … {len(operations) - _SHOWN} more" if len(operations) > _SHOWN else ""
    return (
        f"would lose the quantity of {len(operations)} operation"
        f"{'' if len(operations) == 1 else 's'} ({shown}{more}): the older schema asks every"
        " operation for one part. Set them to 1 first if that may be lost"
        " (UPDATE order_operations SET quantity = 1)"
    )


def downgrade() -> None:
    refusal = downgrade_refusal(op.get_bind())
    if refusal:
        raise MigrationRefused(f"revision {revision} {refusal}; it was not undone")
    with op.batch_alter_table("order_operations") as batch:
        batch.drop_column("quantity")
