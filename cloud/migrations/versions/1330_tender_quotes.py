"""tender quotes: a quote and an order may be of an opportunity's lines instead of a configured
revision, and a call for tenders' lines may carry their materials

Revision ID: 1330
Revises: 1280
Create Date: 2026-12-08 09:00:00.000000

A call for tenders has no configured product: its quote's work is its lines. Quotes and orders
therefore take a nullable configuration (and, for orders, family) and name the opportunity
they answer; a quote names one or the other. The opportunity of the quotes consortia made
before this revision is taken from ``consortium_quotes``, and their orders' from their quotes.

The older schema cannot hold a quote or an order of a call for tenders, nor a tender line's
materials: while there are any, downgrading is refused before anything changes, saying how many
(:func:`downgrade_refusal`). It never deletes them: whoever downgrades decides what may be lost.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Connection

from cloud.exceptions import MigrationRefused

revision = "1330"
down_revision = "1280"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("quotes") as batch:
        batch.alter_column("configuration_id", existing_type=sa.String(length=32), nullable=True)
        batch.alter_column("revision", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("opportunity_id", sa.String(length=32), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_quotes_opportunity_id_opportunities"),
            "opportunities",
            ["opportunity_id"],
            ["id"],
        )
        batch.create_index(batch.f("ix_quotes_opportunity_id"), ["opportunity_id"])
        batch.create_check_constraint(
            batch.f("ck_quotes_quoted_work"),
            "configuration_id IS NOT NULL OR opportunity_id IS NOT NULL",
        )
    with op.batch_alter_table("orders") as batch:
        batch.alter_column("configuration_id", existing_type=sa.String(length=32), nullable=True)
        batch.alter_column("family_id", existing_type=sa.String(length=64), nullable=True)
        batch.add_column(sa.Column("opportunity_id", sa.String(length=32), nullable=True))
        batch.create_index(batch.f("ix_orders_opportunity_id"), ["opportunity_id"])
    with op.batch_alter_table("opportunity_processes") as batch:
        batch.add_column(sa.Column("materials", sa.JSON(), nullable=False, server_default="[]"))
    op.execute(
        "UPDATE quotes SET opportunity_id = (SELECT c.opportunity_id FROM consortium_quotes c "
        "WHERE c.quote_id = quotes.id)"
    )
    op.execute(
        "UPDATE orders SET opportunity_id = (SELECT q.opportunity_id FROM quotes q "
        "WHERE q.id = orders.quote_id)"
    )


_SHOWN = 5  # ids named in a refusal, of each kind


def _some(ids: list[str]) -> str:
    more = f", … {len(ids) - _SHOWN} more" if len(ids) > _SHOWN else ""
    return f"({', '.join(ids[:_SHOWN])}{more})"


def _counted(ids: list[str], what: str) -> str:
    return f"{len(ids)} {what}{'' if len(ids) == 1 else 's'} {_some(ids)}"


def downgrade_refusal(connection: Connection) -> str | None:
    """What undoing this revision would lose, in words; None when nothing."""
    quotes = connection.scalars(
        sa.text("SELECT id FROM quotes WHERE configuration_id IS NULL ORDER BY id")
    ).all()
    orders = connection.scalars(
        sa.text("SELECT id FROM orders WHERE configuration_id IS NULL ORDER BY id")
    ).all()
    lines = sa.table(
        "opportunity_processes",
        sa.column("opportunity_id", sa.String),
        sa.column("position", sa.Integer),
        sa.column("step", sa.String),
        sa.column("materials", sa.JSON),
    )
    query = sa.select(lines.c.opportunity_id, lines.c.step, lines.c.materials).order_by(
        lines.c.opportunity_id, lines.c.position
    )
    with_materials = [f"{row[0]} {row[1]}" for row in connection.execute(query) if row[2]]
    lost = []
    if quotes:
        lost.append(_counted(list(quotes), "tender quote"))
    if orders:
        lost.append(_counted(list(orders), "tender order"))
    if with_materials:
        lost.append(f"the materials of {_counted(with_materials, 'tender line')}")
    if not lost:
        return None
    return (
        f"would lose {', '.join(lost)}: the older schema cannot hold them. Delete them first "
        "if they may be lost (a tender quote with its holds and consortium quote; an order "
        "with its operations, ledger entries, purchase requests and delivered products)"
    )


def downgrade() -> None:
    refusal = downgrade_refusal(op.get_bind())
    if refusal:
        raise MigrationRefused(f"revision {revision} {refusal}; it was not undone")
    with op.batch_alter_table("opportunity_processes") as batch:
        batch.drop_column("materials")
    with op.batch_alter_table("orders") as batch:
        batch.drop_index(batch.f("ix_orders_opportunity_id"))
        batch.drop_column("opportunity_id")
        batch.alter_column("family_id", existing_type=sa.String(length=64), nullable=False)
        batch.alter_column("configuration_id", existing_type=sa.String(length=32), nullable=False)
    with op.batch_alter_table("quotes") as batch:
        batch.drop_constraint(batch.f("ck_quotes_quoted_work"), type_="check")
        batch.drop_index(batch.f("ix_quotes_opportunity_id"))
        batch.drop_constraint(batch.f("fk_quotes_opportunity_id_opportunities"), type_="foreignkey")
        batch.drop_column("opportunity_id")
        batch.alter_column("revision", existing_type=sa.Integer(), nullable=False)
        batch.alter_column("configuration_id", existing_type=sa.String(length=32), nullable=False)
