"""maintenance: alerts, tickets and timeline, notifications, silences, plans, windows

Revision ID: 0100
Revises: 0001
Create Date: 2026-11-22 09:34:59.608139
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0100"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_plans",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("asset", sa.String(length=64), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("skill", sa.String(length=200), nullable=False),
        sa.Column("interval_days", sa.Float(), nullable=True),
        sa.Column("interval_hours", sa.Float(), nullable=True),
        sa.Column("hours_metric", sa.String(length=64), nullable=False),
        sa.Column("window_minutes", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("progress", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_plans")),
    )
    op.create_table(
        "maintenance_service_areas",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("served_units", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_maintenance_service_areas")),
    )
    op.create_table(
        "maintenance_silences",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("matchers", sa.JSON(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.String(length=2000), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("window_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_silences")),
    )
    with op.batch_alter_table("maintenance_silences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_silences_ends_at"), ["ends_at"], unique=False
        )

    op.create_table(
        "maintenance_tickets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("network_id", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=64), nullable=False),
        sa.Column("asset_kind", sa.String(length=16), nullable=False),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("service_level", sa.String(length=32), nullable=False),
        sa.Column("skill", sa.String(length=200), nullable=False),
        sa.Column("assignee_id", sa.String(length=64), nullable=True),
        sa.Column("previous_assignees", sa.JSON(), nullable=False),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_alert_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("escalation_started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminders_sent", sa.Integer(), nullable=False),
        sa.Column("escalated_to_next", sa.Boolean(), nullable=False),
        sa.Column("escalated_to_coordinator", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parts_used", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_tickets")),
    )
    with op.batch_alter_table("maintenance_tickets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_maintenance_tickets_asset"), ["asset"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_maintenance_tickets_assignee_id"), ["assignee_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_maintenance_tickets_customer_id"), ["customer_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_maintenance_tickets_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_maintenance_tickets_unit_id"), ["unit_id"], unique=False
        )

    op.create_table(
        "maintenance_webhooks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_webhooks")),
    )
    op.create_table(
        "maintenance_windows",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=64), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("plan_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_windows")),
    )
    with op.batch_alter_table("maintenance_windows", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_windows_ends_at"), ["ends_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_maintenance_windows_unit_id"), ["unit_id"], unique=False
        )

    op.create_table(
        "maintenance_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fingerprint", sa.String(length=16), nullable=False),
        sa.Column("active_key", sa.String(length=16), nullable=True),
        sa.Column("network_id", sa.String(length=64), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("labels", sa.JSON(), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("suppressed_by", sa.String(length=200), nullable=True),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["maintenance_tickets.id"],
            name=op.f("fk_maintenance_alerts_ticket_id_maintenance_tickets"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_alerts")),
        sa.UniqueConstraint("active_key", name=op.f("uq_maintenance_alerts_active_key")),
    )
    with op.batch_alter_table("maintenance_alerts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_alerts_fingerprint"), ["fingerprint"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_maintenance_alerts_starts_at"), ["starts_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_maintenance_alerts_ticket_id"), ["ticket_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_maintenance_alerts_unit_id"), ["unit_id"], unique=False
        )

    op.create_table(
        "maintenance_notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("topic", sa.String(length=300), nullable=True),
        sa.Column("payload", sa.String(length=20000), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["maintenance_tickets.id"],
            name=op.f("fk_maintenance_notifications_ticket_id_maintenance_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_notifications")),
    )
    with op.batch_alter_table("maintenance_notifications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_notifications_next_attempt_at"),
            ["next_attempt_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_maintenance_notifications_status"), ["status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_maintenance_notifications_ticket_id"), ["ticket_id"], unique=False
        )

    op.create_table(
        "maintenance_ticket_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["maintenance_tickets.id"],
            name=op.f("fk_maintenance_ticket_events_ticket_id_maintenance_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_ticket_events")),
    )
    with op.batch_alter_table("maintenance_ticket_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_maintenance_ticket_events_ticket_id"), ["ticket_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("maintenance_ticket_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_ticket_events_ticket_id"))

    op.drop_table("maintenance_ticket_events")
    with op.batch_alter_table("maintenance_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_notifications_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_maintenance_notifications_status"))
        batch_op.drop_index(batch_op.f("ix_maintenance_notifications_next_attempt_at"))

    op.drop_table("maintenance_notifications")
    with op.batch_alter_table("maintenance_alerts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_alerts_unit_id"))
        batch_op.drop_index(batch_op.f("ix_maintenance_alerts_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_maintenance_alerts_starts_at"))
        batch_op.drop_index(batch_op.f("ix_maintenance_alerts_fingerprint"))

    op.drop_table("maintenance_alerts")
    with op.batch_alter_table("maintenance_windows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_windows_unit_id"))
        batch_op.drop_index(batch_op.f("ix_maintenance_windows_ends_at"))

    op.drop_table("maintenance_windows")
    op.drop_table("maintenance_webhooks")
    with op.batch_alter_table("maintenance_tickets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_tickets_unit_id"))
        batch_op.drop_index(batch_op.f("ix_maintenance_tickets_status"))
        batch_op.drop_index(batch_op.f("ix_maintenance_tickets_customer_id"))
        batch_op.drop_index(batch_op.f("ix_maintenance_tickets_assignee_id"))
        batch_op.drop_index(batch_op.f("ix_maintenance_tickets_asset"))

    op.drop_table("maintenance_tickets")
    with op.batch_alter_table("maintenance_silences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_silences_ends_at"))

    op.drop_table("maintenance_silences")
    op.drop_table("maintenance_service_areas")
    op.drop_table("maintenance_plans")
