"""embedded telemetry: one row per machine and ingest batch instead of one per sample

Revision ID: 0500
Revises: 0400
Create Date: 2026-11-29 16:30:00.000000

The stored samples move into ``telemetry_chunks`` (a JSON array of ``[metric, microseconds
after first_time, value, quality]`` per row, see ``cloud.telemetry.models.TelemetryChunk``);
nothing is lost either way. The old table kept numbers as floats, so a migrated chunk holds the
values as they were stored (``true`` became ``1.0``); new chunks keep each value's type.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0500"
down_revision = "0400"
branch_labels = None
depends_on = None

PAGE = 20_000
"""Old rows read at a time (by id), so a large store never sits in memory at once."""

_TIME = sa.DateTime(timezone=True)
_SAMPLES = sa.table(
    "telemetry_samples",
    sa.column("id", sa.BigInteger()),
    sa.column("unit_id", sa.String()),
    sa.column("machine", sa.String()),
    sa.column("metric", sa.String()),
    sa.column("time", _TIME),
    sa.column("value_number", sa.Float()),
    sa.column("value_text", sa.String()),
    sa.column("quality", sa.String()),
)
_CHUNKS = sa.table(
    "telemetry_chunks",
    sa.column("id", sa.BigInteger()),
    sa.column("unit_id", sa.String()),
    sa.column("machine", sa.String()),
    sa.column("first_time", _TIME),
    sa.column("last_time", _TIME),
    sa.column("count", sa.Integer()),
    sa.column("samples", sa.Text()),
)


def _id_unit_machine() -> list[sa.Column[Any]]:
    """The first columns of both tables: a row id, the unit and the machine."""
    return [
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("unit_id", sa.String(length=64), nullable=False),
        sa.Column("machine", sa.String(length=64), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "telemetry_chunks",
        *_id_unit_machine(),
        sa.Column("first_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("samples", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telemetry_chunks")),
    )
    op.create_index(
        "ix_telemetry_chunks_machine_time",
        "telemetry_chunks",
        ["unit_id", "machine", "last_time"],
    )
    op.create_index(
        "ix_telemetry_chunks_last_time",
        "telemetry_chunks",
        ["last_time"],
        postgresql_using="brin",
    )
    bind = op.get_bind()
    for page in _pages(
        bind,
        _SAMPLES,
        ("unit_id", "machine", "metric", "time", "value_number", "value_text", "quality"),
    ):
        bind.execute(sa.insert(_CHUNKS), _chunks(page))
    op.drop_index("ix_telemetry_samples_time", table_name="telemetry_samples")
    op.drop_table("telemetry_samples")


def downgrade() -> None:
    op.create_table(
        "telemetry_samples",
        *_id_unit_machine(),
        sa.Column("metric", sa.String(length=64), nullable=False),
        sa.Column("time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("value_number", sa.Float(), nullable=True),
        sa.Column("value_text", sa.String(length=200), nullable=True),
        sa.Column("quality", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telemetry_samples")),
    )
    op.create_index(
        "ix_telemetry_samples_time", "telemetry_samples", ["time"], postgresql_using="brin"
    )
    bind = op.get_bind()
    for page in _pages(bind, _CHUNKS, ("unit_id", "machine", "first_time", "samples")):
        rows = [sample for chunk in page for sample in _sample_rows(*chunk)]
        if rows:
            bind.execute(sa.insert(_SAMPLES), rows)
    op.drop_index("ix_telemetry_chunks_last_time", table_name="telemetry_chunks")
    op.drop_index("ix_telemetry_chunks_machine_time", table_name="telemetry_chunks")
    op.drop_table("telemetry_chunks")


def _pages(
    bind: sa.Connection, table: sa.TableClause, columns: Sequence[str]
) -> Iterator[list[tuple[Any, ...]]]:
    """The rows of ``table`` in id order, a page at a time."""
    after = -1
    while True:
        page = bind.execute(
            sa.select(table.c.id, *(table.c[name] for name in columns))
            .where(table.c.id > after)
            .order_by(table.c.id)
            .limit(PAGE)
        ).all()
        if not page:
            return
        after = page[-1][0]
        yield [tuple(row)[1:] for row in page]


def _utc(time: datetime) -> datetime:
    """SQLite gives back naive UTC datetimes, PostgreSQL aware ones."""
    return time.replace(tzinfo=UTC) if time.tzinfo is None else time.astimezone(UTC)


def _chunks(page: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    per_machine: dict[tuple[str, str], list[Any]] = {}
    for unit_id, machine, metric, time, number, text, quality in page:
        value = text if text is not None else number
        per_machine.setdefault((unit_id, machine), []).append((metric, _utc(time), value, quality))
    rows = []
    for (unit_id, machine), samples in per_machine.items():
        first = min(sample[1] for sample in samples)
        encoded = [
            [metric, (time - first) // timedelta(microseconds=1), value, quality]
            for metric, time, value, quality in samples
        ]
        rows.append(
            {
                "unit_id": unit_id,
                "machine": machine,
                "first_time": first,
                "last_time": max(sample[1] for sample in samples),
                "count": len(samples),
                "samples": json.dumps(encoded, separators=(",", ":")),
            }
        )
    return rows


def _sample_rows(
    unit_id: str, machine: str, first_time: datetime, encoded: str
) -> Iterator[dict[str, Any]]:
    first = _utc(first_time)
    for metric, offset, value, quality in json.loads(encoded):
        text = value if isinstance(value, str) else None
        yield {
            "unit_id": unit_id,
            "machine": machine,
            "metric": metric,
            "time": first + timedelta(microseconds=offset),
            "value_number": None if text is not None else float(value),
            "value_text": text,
            "quality": quality,
        }
