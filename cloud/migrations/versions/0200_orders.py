"""orders, co-design and dispatch tables

Revision ID: 0200
Revises: 0100
Create Date: 2026-11-22 09:35:25.677846
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0200"
down_revision = "0100"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "configurations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("family_id", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("current_revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_configurations")),
    )
    with op.batch_alter_table("configurations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_configurations_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "scheduler_state",
        sa.Column("network_id", sa.String(length=64), nullable=False),
        sa.Column("replan_requested", sa.Boolean(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("plans", sa.Integer(), nullable=False),
        sa.Column("down_machines", sa.JSON(), nullable=False),
        sa.Column("windows_seen", sa.JSON(), nullable=False),
        sa.Column("makespan_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("network_id", name=op.f("pk_scheduler_state")),
    )
    op.create_table(
        "configuration_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("configuration_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("author_role", sa.String(length=20), nullable=False),
        sa.Column("comment", sa.String(length=2000), nullable=False),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("problems", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["configuration_id"],
            ["configurations.id"],
            name=op.f("fk_configuration_revisions_configuration_id_configurations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_configuration_revisions")),
        sa.UniqueConstraint(
            "configuration_id", "number", name=op.f("uq_configuration_revisions_configuration_id")
        ),
    )
    with op.batch_alter_table("configuration_revisions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_configuration_revisions_configuration_id"),
            ["configuration_id"],
            unique=False,
        )

    op.create_table(
        "quotes",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("configuration_id", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("promised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("work", sa.JSON(), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["configuration_id"],
            ["configurations.id"],
            name=op.f("fk_quotes_configuration_id_configurations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
    )
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_quotes_configuration_id"), ["configuration_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_quotes_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("quote_id", sa.String(length=32), nullable=False),
        sa.Column("configuration_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=64), nullable=False),
        sa.Column("values", sa.JSON(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("promised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["quote_id"], ["quotes.id"], name=op.f("fk_orders_quote_id_quotes")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.UniqueConstraint("quote_id", name=op.f("uq_orders_quote_id")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_customer_id"), ["customer_id"], unique=False)

    op.create_table(
        "delivered_products",
        sa.Column("serial", sa.String(length=64), nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=False),
        sa.Column("family_id", sa.String(length=64), nullable=False),
        sa.Column("configuration", sa.JSON(), nullable=False),
        sa.Column("as_built", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_delivered_products_order_id_orders")
        ),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_delivered_products")),
        sa.UniqueConstraint("order_id", name=op.f("uq_delivered_products_order_id")),
    )
    with op.batch_alter_table("delivered_products", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivered_products_customer_id"), ["customer_id"], unique=False
        )

    op.create_table(
        "order_operations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("order_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("process", sa.String(length=32), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("predecessors", sa.JSON(), nullable=False),
        sa.Column("requirements", sa.JSON(), nullable=False),
        sa.Column("certifications", sa.JSON(), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("machine", sa.String(length=64), nullable=True),
        sa.Column("job_order_id", sa.String(length=64), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("planned_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("planned_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_operations_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_operations")),
        sa.UniqueConstraint("job_order_id", name=op.f("uq_order_operations_job_order_id")),
    )
    with op.batch_alter_table("order_operations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_operations_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_order_operations_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("order_operations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_operations_unit_id"))
        batch_op.drop_index(batch_op.f("ix_order_operations_order_id"))

    op.drop_table("order_operations")
    with op.batch_alter_table("delivered_products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivered_products_customer_id"))

    op.drop_table("delivered_products")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_customer_id"))

    op.drop_table("orders")
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quotes_customer_id"))
        batch_op.drop_index(batch_op.f("ix_quotes_configuration_id"))

    op.drop_table("quotes")
    with op.batch_alter_table("configuration_revisions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_configuration_revisions_configuration_id"))

    op.drop_table("configuration_revisions")
    op.drop_table("scheduler_state")
    with op.batch_alter_table("configurations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_configurations_customer_id"))

    op.drop_table("configurations")
