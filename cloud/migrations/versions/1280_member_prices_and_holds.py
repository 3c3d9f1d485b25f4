"""member prices and capacity holds: members' rates per process, a quote's status and price
breakdown, and the machine time an open quote holds

Revision ID: 1280
Revises: 1320
Create Date: 2026-12-07 02:10:00.000000

Quotes were priced by a fixed formula per product family and reserved nothing: two quotes could
promise the same machine time. A quote is now priced from the rates of the members its what-if
plan uses, and holds that plan's machine time until it expires, is refused or withdrawn, or
becomes an order. Quotes made before this revision keep their price, with an empty breakdown;
those already confirmed are marked so.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1280"
down_revision = "1320"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "member_rates",
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("process", sa.String(32), nullable=False),
        sa.Column("hourly_rate", sa.Float(), nullable=False),
        sa.Column("setup_cost", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_member_rates_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("unit_id", "process", name=op.f("pk_member_rates")),
    )
    with op.batch_alter_table("quotes") as batch:
        batch.add_column(sa.Column("status", sa.String(16), nullable=False, server_default="open"))
        batch.add_column(sa.Column("breakdown", sa.JSON(), nullable=False, server_default="{}"))
    op.execute("UPDATE quotes SET status = 'confirmed' WHERE order_id IS NOT NULL")
    op.create_table(
        "capacity_holds",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("quote_id", sa.String(32), nullable=False),
        sa.Column("step", sa.String(64), nullable=False),
        sa.Column("unit_id", sa.String(64), nullable=False),
        sa.Column("machine", sa.String(64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("work_starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["quote_id"],
            ["quotes.id"],
            name=op.f("fk_capacity_holds_quote_id_quotes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_capacity_holds")),
    )
    op.create_index(op.f("ix_capacity_holds_quote_id"), "capacity_holds", ["quote_id"])
    op.create_index(op.f("ix_capacity_holds_valid_until"), "capacity_holds", ["valid_until"])


def downgrade() -> None:
    op.drop_index(op.f("ix_capacity_holds_valid_until"), table_name="capacity_holds")
    op.drop_index(op.f("ix_capacity_holds_quote_id"), table_name="capacity_holds")
    op.drop_table("capacity_holds")
    with op.batch_alter_table("quotes") as batch:
        batch.drop_column("breakdown")
        batch.drop_column("status")
    op.drop_table("member_rates")
