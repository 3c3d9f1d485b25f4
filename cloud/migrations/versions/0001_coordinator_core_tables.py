"""coordinator core tables

Revision ID: 0001
Revises:
Create Date: 2026-11-22 09:25:25.609422
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "active_alarms",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("alarm_id", sa.String(length=200), nullable=False),
        sa.Column("asset", sa.String(length=64), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=2000), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", "alarm_id", name=op.f("pk_active_alarms")),
    )
    op.create_table(
        "job_progress",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("job_order_id", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=True),
        sa.Column("progress", sa.Float(), nullable=True),
        sa.Column("produced_quantity", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=2000), nullable=True),
        sa.Column("actual_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actual_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", "job_order_id", name=op.f("pk_job_progress")),
    )
    op.create_table(
        "latest_metrics",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value_number", sa.Float(), nullable=True),
        sa.Column("value_text", sa.String(length=200), nullable=True),
        sa.Column("quality", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", "machine", "metric", name=op.f("pk_latest_metrics")),
    )
    op.create_table(
        "machine_state",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=32), nullable=False),
        sa.Column("running_job_order", sa.String(length=64), nullable=True),
        sa.Column("stored_job_orders", sa.JSON(), nullable=False),
        sa.Column("free_slots", sa.Integer(), nullable=False),
        sa.Column("queue_free_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", "machine", name=op.f("pk_machine_state")),
    )
    op.create_table(
        "metric_rollups",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("minute", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("minimum", sa.Float(), nullable=False),
        sa.Column("maximum", sa.Float(), nullable=False),
        sa.Column("last", sa.Float(), nullable=False),
        sa.Column("last_time", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint(
            "unit_id", "machine", "metric", "minute", name=op.f("pk_metric_rollups")
        ),
    )
    with op.batch_alter_table("metric_rollups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_metric_rollups_minute"), ["minute"], unique=False)

    op.create_table(
        "networks",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_networks")),
    )
    op.create_table(
        "outgoing_sequences",
        sa.Column("sender", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sender", name=op.f("pk_outgoing_sequences")),
    )
    op.create_table(
        "principals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("technician_id", sa.String(length=64), nullable=True),
        sa.Column("customer_id", sa.String(length=64), nullable=True),
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=128), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_principals")),
        sa.UniqueConstraint("key_id", name=op.f("uq_principals_key_id")),
    )
    with op.batch_alter_table("principals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_principals_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "seen_messages",
        sa.Column("id", sa.String(length=26), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_seen_messages")),
    )
    with op.batch_alter_table("seen_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_seen_messages_received_at"), ["received_at"], unique=False
        )

    op.create_table(
        "telemetry_samples",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value_number", sa.Float(), nullable=True),
        sa.Column("value_text", sa.String(length=200), nullable=True),
        sa.Column("quality", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telemetry_samples")),
    )
    with op.batch_alter_table("telemetry_samples", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_telemetry_samples_time"), ["time"], unique=False)

    op.create_table(
        "unit_birth_marks",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("gateway_version", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_unit_birth_marks")),
    )
    op.create_table(
        "unit_status",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_unit_status")),
    )
    op.create_table(
        "units",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("network_id", sa.String(length=64), nullable=False),
        sa.Column("company", sa.String(length=200), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("latitude", sa.Float(), nullable=False),
        sa.Column("longitude", sa.Float(), nullable=False),
        sa.Column("certifications", sa.JSON(), nullable=False),
        sa.Column("processes", sa.JSON(), nullable=False),
        sa.Column("sharing_policy", sa.JSON(), nullable=False),
        sa.Column("mqtt_password_hash", sa.String(length=300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["network_id"],
            ["networks.id"],
            name=op.f("fk_units_network_id_networks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_units")),
    )
    op.create_table(
        "machines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("asset_kind", sa.String(length=20), nullable=False),
        sa.Column("manufacturer", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("serial_number", sa.String(length=200), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("max_job_orders", sa.Integer(), nullable=False),
        sa.Column("static_data", sa.JSON(), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_machines_unit_id_units"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_machines")),
        sa.UniqueConstraint("unit_id", "machine", name=op.f("uq_machines_unit_id")),
    )
    with op.batch_alter_table("machines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_machines_unit_id"), ["unit_id"], unique=False)

    op.create_table(
        "technicians",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("employer_unit_id", sa.String(length=64), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("home_latitude", sa.Float(), nullable=False),
        sa.Column("home_longitude", sa.Float(), nullable=False),
        sa.Column("working_hours", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["employer_unit_id"],
            ["units.id"],
            name=op.f("fk_technicians_employer_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technicians")),
    )
    with op.batch_alter_table("technicians", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_technicians_employer_unit_id"), ["employer_unit_id"], unique=False
        )

    op.create_table(
        "transport_times",
        sa.Column("from_unit_id", sa.String(length=64), nullable=False),
        sa.Column("to_unit_id", sa.String(length=64), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(
            ["from_unit_id"],
            ["units.id"],
            name=op.f("fk_transport_times_from_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["to_unit_id"],
            ["units.id"],
            name=op.f("fk_transport_times_to_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("from_unit_id", "to_unit_id", name=op.f("pk_transport_times")),
    )


def downgrade() -> None:

    op.drop_table("transport_times")
    with op.batch_alter_table("technicians", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_technicians_employer_unit_id"))

    op.drop_table("technicians")
    with op.batch_alter_table("machines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_machines_unit_id"))

    op.drop_table("machines")
    op.drop_table("units")
    op.drop_table("unit_status")
    op.drop_table("unit_birth_marks")
    with op.batch_alter_table("telemetry_samples", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_telemetry_samples_time"))

    op.drop_table("telemetry_samples")
    with op.batch_alter_table("seen_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_seen_messages_received_at"))

    op.drop_table("seen_messages")
    with op.batch_alter_table("principals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_principals_unit_id"))

    op.drop_table("principals")
    op.drop_table("outgoing_sequences")
    op.drop_table("networks")
    with op.batch_alter_table("metric_rollups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metric_rollups_minute"))

    op.drop_table("metric_rollups")
    op.drop_table("machine_state")
    op.drop_table("latest_metrics")
    op.drop_table("job_progress")
    op.drop_table("active_alarms")
