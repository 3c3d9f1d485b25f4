"""ingest dead letters: valid messages whose apply failed, kept for a retry

Revision ID: 0600
Revises: 0500
Create Date: 2026-11-29 22:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0600"
down_revision = "0500"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ingest_dead_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("message_id", sa.String(length=26), nullable=True),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("topic", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("traceback", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ingest_dead_letters")),
        sa.UniqueConstraint("message_id", name=op.f("uq_ingest_dead_letters_message_id")),
    )
    op.create_index(
        op.f("ix_ingest_dead_letters_first_failed_at"),
        "ingest_dead_letters",
        ["first_failed_at"],
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_ingest_dead_letters_first_failed_at"), table_name="ingest_dead_letters")
    op.drop_table("ingest_dead_letters")
