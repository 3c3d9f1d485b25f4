"""plant operators: who runs or sets up a plant's machines, their skills and roster

Revision ID: 1000
Revises: 0910
Create Date: 2026-12-06 18:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "1000"
down_revision = "0910"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plant_operators",
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("operator_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("shifts", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_plant_operators_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("unit_id", "operator_id", name=op.f("pk_plant_operators")),
    )
    with op.batch_alter_table("order_operations") as batch:
        batch.add_column(sa.Column("planned_operator", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("order_operations") as batch:
        batch.drop_column("planned_operator")
    op.drop_table("plant_operators")
