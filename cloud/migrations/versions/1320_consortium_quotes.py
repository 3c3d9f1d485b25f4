"""consortium quotes: the quote an opportunity's consortium made, and the revision of its
members and terms it priced

Revision ID: 1320
Revises: 1300
Create Date: 2026-12-07 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1320"
down_revision = "1300"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consortium_quotes",
        sa.Column("quote_id", sa.String(length=32), nullable=False),
        sa.Column("opportunity_id", sa.String(length=32), nullable=False),
        sa.Column("consortium_id", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["quote_id"],
            ["quotes.id"],
            name=op.f("fk_consortium_quotes_quote_id_quotes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            ["opportunities.id"],
            name=op.f("fk_consortium_quotes_opportunity_id_opportunities"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["consortium_id"],
            ["consortia.id"],
            name=op.f("fk_consortium_quotes_consortium_id_consortia"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("quote_id", name=op.f("pk_consortium_quotes")),
    )
    op.create_index(
        op.f("ix_consortium_quotes_opportunity_id"),
        "consortium_quotes",
        ["opportunity_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_consortium_quotes_opportunity_id"), table_name="consortium_quotes")
    op.drop_table("consortium_quotes")
