"""service contracts: delivered products' contracts and field assets, and who may read each
line of a ticket's timeline

Revision ID: 1300
Revises: 1290
Create Date: 2026-12-07 02:10:00.000000

A delivered product gets a service contract on delivery (start, end, service level, response
time) and may be linked to the asset its field gateway reports it as. A ticket's timeline
lines get an audience: the customer whose product it is reads only the ``customer`` ones —
status changes (with the resolution) and customers' own notes — never the network's internal
notes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1300"
down_revision = "1290"
branch_labels = None
depends_on = None

CUSTOMER_KINDS = ("opened", "acknowledged", "in_progress", "resolved", "closed")


def upgrade() -> None:
    op.create_table(
        "service_contracts",
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service_level", sa.String(length=32), nullable=False),
        sa.Column("response_hours", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["serial"],
            ["delivered_products.serial"],
            name=op.f("fk_service_contracts_serial_delivered_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_service_contracts")),
    )
    with op.batch_alter_table("delivered_products") as batch:
        batch.add_column(sa.Column("field_unit_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("field_asset", sa.String(length=64), nullable=True))
    op.add_column(
        "maintenance_ticket_events",
        sa.Column("audience", sa.String(length=16), nullable=False, server_default="internal"),
    )
    events = sa.table(
        "maintenance_ticket_events",
        sa.column("kind", sa.String),
        sa.column("actor", sa.String),
        sa.column("audience", sa.String),
    )
    op.execute(
        events.update()
        .where(
            sa.or_(
                events.c.kind.in_(CUSTOMER_KINDS),
                sa.and_(events.c.kind == "note", events.c.actor.like("customer %")),
            )
        )
        .values(audience="customer")
    )


def downgrade() -> None:
    with op.batch_alter_table("maintenance_ticket_events") as batch:
        batch.drop_column("audience")
    with op.batch_alter_table("delivered_products") as batch:
        batch.drop_column("field_asset")
        batch.drop_column("field_unit_id")
    op.drop_table("service_contracts")
