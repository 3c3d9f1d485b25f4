"""one outbox: every message the coordinator sends, maintenance's notifications moved into it

Revision ID: 1100
Revises: 1000
Create Date: 2026-12-06 17:40:00.000000

The rows of ``maintenance_notifications`` move to ``outbox`` with their ids, states, attempts and
times, as origin "maintenance" with the ticket id as subject. The downgrade moves maintenance's
rows back; the other origins' rows (dispatch commands, rebirth requests) had no table before
this revision and are dropped with ``outbox``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1100"
down_revision = "1000"
branch_labels = None
depends_on = None

_COMMON = (
    "channel",
    "target",
    "action",
    "topic",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "sent_at",
)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("subject", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=300), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("topic", sa.String(length=300), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_origin_subject", ["origin", "subject"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_outbox_next_attempt_at"), ["next_attempt_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_outbox_status"), ["status"], unique=False)
    columns = ", ".join(_COMMON)
    op.execute(
        f"INSERT INTO outbox (id, origin, subject, {columns}) "
        f"SELECT id, 'maintenance', CAST(ticket_id AS VARCHAR(64)), {columns} "
        "FROM maintenance_notifications"
    )
    _continue_ids("outbox")
    with op.batch_alter_table("maintenance_notifications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_maintenance_notifications_ticket_id"))
        batch_op.drop_index(batch_op.f("ix_maintenance_notifications_status"))
        batch_op.drop_index(batch_op.f("ix_maintenance_notifications_next_attempt_at"))
    op.drop_table("maintenance_notifications")


def downgrade() -> None:
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
    columns = ", ".join(_COMMON)
    op.execute(
        f"INSERT INTO maintenance_notifications (id, ticket_id, {columns}) "
        f"SELECT id, CAST(subject AS INTEGER), {columns} FROM outbox "
        "WHERE origin = 'maintenance' AND subject IS NOT NULL"
    )
    _continue_ids("maintenance_notifications")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_status"))
        batch_op.drop_index(batch_op.f("ix_outbox_next_attempt_at"))
        batch_op.drop_index("ix_outbox_origin_subject")
    op.drop_table("outbox")


def _continue_ids(table: str) -> None:
    """Rows copied with their ids: PostgreSQL's sequence must go on after the largest one
    (SQLite's integer primary key does by itself)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
        )
