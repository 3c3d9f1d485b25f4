"""consortia: invitations to members (sent, answered, price and dates, or a reason), consortia
with their revisions, members and acceptances of terms

Revision ID: 1260
Revises: 1270
Create Date: 2026-12-07 02:30:00.000000

``invitations.sent_at`` and ``invitations.answered_at`` give a member's response time.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1260"
down_revision = "1270"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "work_invitations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("opportunity_id", sa.String(length=32), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("process", sa.String(length=32), nullable=False),
        sa.Column("work_minutes", sa.Float(), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("deadline", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("sent_by", sa.String(length=200), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_by", sa.String(length=200), nullable=False),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("earliest_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("earliest_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decline_reason", sa.String(length=2000), nullable=False),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_work_invitations_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_work_invitations_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_invitations")),
        sa.UniqueConstraint(
            "opportunity_id", "step", "unit_id", name=op.f("uq_work_invitations_opportunity_id")
        ),
    )
    op.create_index(
        op.f("ix_work_invitations_opportunity_id"),
        "work_invitations",
        ["opportunity_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_work_invitations_unit_id"), "work_invitations", ["unit_id"], unique=False
    )
    op.create_table(
        "consortia",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("opportunity_id", sa.String(length=32), nullable=False),
        sa.Column("network_kind", sa.String(length=40), nullable=False),
        sa.Column("formed_by", sa.String(length=16), nullable=False),
        sa.Column("current_revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_consortia_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consortia")),
    )
    op.create_index(
        op.f("ix_consortia_opportunity_id"), "consortia", ["opportunity_id"], unique=False
    )
    op.create_table(
        "consortium_revisions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("consortium_id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("payment_terms", sa.String(length=2000), nullable=False),
        sa.Column("penalties", sa.String(length=2000), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("total_cost", sa.Float(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("local_share", sa.Float(), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("comment", sa.String(length=2000), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["consortium_id"],
            ["consortia.id"],
            name=op.f("fk_consortium_revisions_consortium_id_consortia"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consortium_revisions")),
        sa.UniqueConstraint(
            "consortium_id", "number", name=op.f("uq_consortium_revisions_consortium_id")
        ),
    )
    op.create_index(
        op.f("ix_consortium_revisions_consortium_id"),
        "consortium_revisions",
        ["consortium_id"],
        unique=False,
    )
    op.create_table(
        "consortium_members",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.String(length=80), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("price", sa.Float(), nullable=False),
        sa.Column("work_share", sa.Float(), nullable=False),
        sa.Column("revenue_share", sa.Float(), nullable=False),
        sa.Column("local", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["consortium_revisions.id"],
            name=op.f("fk_consortium_members_revision_id_consortium_revisions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_consortium_members_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consortium_members")),
        sa.UniqueConstraint(
            "revision_id", "party_id", name=op.f("uq_consortium_members_revision_id")
        ),
    )
    op.create_index(
        op.f("ix_consortium_members_revision_id"),
        "consortium_members",
        ["revision_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_consortium_members_unit_id"), "consortium_members", ["unit_id"], unique=False
    )
    op.create_table(
        "consortium_acceptances",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("revision_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("principal_id", sa.Integer(), nullable=False),
        sa.Column("accepted_by", sa.String(length=200), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["revision_id"],
            ["consortium_revisions.id"],
            name=op.f("fk_consortium_acceptances_revision_id_consortium_revisions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_consortium_acceptances_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consortium_acceptances")),
        sa.UniqueConstraint(
            "revision_id", "unit_id", name=op.f("uq_consortium_acceptances_revision_id")
        ),
    )
    op.create_index(
        op.f("ix_consortium_acceptances_revision_id"),
        "consortium_acceptances",
        ["revision_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("consortium_acceptances")
    op.drop_table("consortium_members")
    op.drop_table("consortium_revisions")
    op.drop_table("consortia")
    op.drop_table("work_invitations")
