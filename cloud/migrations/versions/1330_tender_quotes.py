"""tender quotes: a quote and an order may be of an opportunity's lines instead of a configured
revision, and a call for tenders' lines may carry their materials

Revision ID: 1330
Revises: 1280
Create Date: 2026-12-08 09:00:00.000000

A call for tenders has no configured product: its quote's work is its lines. Quotes and orders
therefore take a nullable configuration (and, for orders, family) and name the opportunity
they answer; a quote names one or the other. The opportunity of the quotes consortia made
before this revision is taken from ``consortium_quotes``, and their orders' from their quotes.

Downgrading deletes the quotes and orders of calls for tenders (the older schema cannot hold
them), with what hangs on them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

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


_TENDER_ORDERS = "SELECT id FROM orders WHERE configuration_id IS NULL"
_TENDER_QUOTES = "SELECT id FROM quotes WHERE configuration_id IS NULL"


def downgrade() -> None:
    for table in ("order_operations", "ledger_entries", "purchase_requests", "delivered_products"):
        op.execute(f"DELETE FROM {table} WHERE order_id IN ({_TENDER_ORDERS})")
    op.execute(f"DELETE FROM orders WHERE id IN ({_TENDER_ORDERS})")
    for table in ("capacity_holds", "consortium_quotes"):
        op.execute(f"DELETE FROM {table} WHERE quote_id IN ({_TENDER_QUOTES})")
    op.execute(f"DELETE FROM quotes WHERE id IN ({_TENDER_QUOTES})")
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
