"""suppliers: the registry of suppliers and their offers, and orders' purchase requests

Revision ID: 1270
Revises: 1250
Create Date: 2026-12-07 02:00:00.000000

Bill-of-materials lines carried a cost and nothing else. Suppliers now offer materials with a
price and a lead time; a confirmed order requests them, and the expected delivery of each
request is the release date of the operations that consume the material.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1270"
down_revision = "1250"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "suppliers",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("network_id", sa.String(64), nullable=False),
        sa.Column("company", sa.String(200), nullable=False),
        sa.Column("site", sa.String(200), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name=op.f("fk_suppliers_network_id_networks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppliers")),
    )
    op.create_index(op.f("ix_suppliers_network_id"), "suppliers", ["network_id"])
    op.create_table(
        "supplier_offers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("supplier_id", sa.String(64), nullable=False),
        sa.Column("item", sa.String(64), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("unit_price", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("lead_time_days", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["suppliers.id"],
            name=op.f("fk_supplier_offers_supplier_id_suppliers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_supplier_offers")),
        sa.UniqueConstraint("supplier_id", "item", name=op.f("uq_supplier_offers_supplier_id")),
    )
    op.create_index(op.f("ix_supplier_offers_supplier_id"), "supplier_offers", ["supplier_id"])
    op.create_index(op.f("ix_supplier_offers_item"), "supplier_offers", ["item"])
    op.create_table(
        "purchase_requests",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("order_id", sa.String(32), nullable=False),
        sa.Column("supplier_id", sa.String(64), nullable=False),
        sa.Column("item", sa.String(64), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("quantity", sa.Float(), nullable=False),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("unit_price", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expected_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_purchase_requests_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["supplier_id"],
            ["suppliers.id"],
            name=op.f("fk_purchase_requests_supplier_id_suppliers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_purchase_requests")),
    )
    op.create_index(op.f("ix_purchase_requests_order_id"), "purchase_requests", ["order_id"])
    op.create_index(op.f("ix_purchase_requests_supplier_id"), "purchase_requests", ["supplier_id"])
    op.create_index(op.f("ix_purchase_requests_status"), "purchase_requests", ["status"])


def downgrade() -> None:
    op.drop_table("purchase_requests")
    op.drop_table("supplier_offers")
    op.drop_table("suppliers")
