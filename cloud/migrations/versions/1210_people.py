"""people: usernames with argon2 passwords, page sessions, invitations, sign-in failures

Revision ID: 1210
Revises: 1200
Create Date: 2026-12-06 20:20:00.000000

A principal is now an API key holder, a person, or both: ``key_id`` and ``key_hash`` become
optional. Page sessions no longer carry the API key in the cookie but a token of their own.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1210"
down_revision = "1200"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("principals") as batch:
        batch.alter_column("key_id", existing_type=sa.String(length=32), nullable=True)
        batch.alter_column("key_hash", existing_type=sa.String(length=128), nullable=True)
        batch.add_column(sa.Column("username", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("email", sa.String(length=254), nullable=True))
        batch.create_unique_constraint(batch.f("uq_principals_username"), ["username"])
    op.create_table(
        "web_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("idle_s", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_web_sessions_principal_id_principals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_web_sessions")),
    )
    op.create_index(op.f("ix_web_sessions_principal_id"), "web_sessions", ["principal_id"])
    op.create_index(op.f("ix_web_sessions_expires_at"), "web_sessions", ["expires_at"])
    op.create_table(
        "invitations",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["principal_id"],
            ["principals.id"],
            name=op.f("fk_invitations_principal_id_principals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_invitations")),
    )
    op.create_index(op.f("ix_invitations_principal_id"), "invitations", ["principal_id"])
    op.create_table(
        "sign_in_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_failures")),
    )
    for column in ("username", "address", "at"):
        op.create_index(op.f(f"ix_sign_in_failures_{column}"), "sign_in_failures", [column])


def downgrade() -> None:
    op.drop_table("sign_in_failures")
    op.drop_table("invitations")
    op.drop_table("web_sessions")
    # People without an API key cannot stay: the older schema needs one per principal.
    op.execute("DELETE FROM principals WHERE key_id IS NULL")
    with op.batch_alter_table("principals") as batch:
        batch.drop_constraint(batch.f("uq_principals_username"), type_="unique")
        batch.drop_column("email")
        batch.drop_column("password_hash")
        batch.drop_column("username")
        batch.alter_column("key_id", existing_type=sa.String(length=32), nullable=False)
        batch.alter_column("key_hash", existing_type=sa.String(length=128), nullable=False)
