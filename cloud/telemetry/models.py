"""Telemetry tables: embedded sample chunks, per-minute rollups and the latest value per metric."""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from pydantic import BaseModel
from sqlalchemy import BigInteger, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, UtcDateTime

SAMPLE_COLUMNS = ("unit_id", "machine", "metric", "time", "value_number", "value_text", "quality")
"""The columns of a sample's row in the latest-value table."""


class SampleRecord(NamedTuple):
    """One accepted sample as a sink or a test gives it (the ingest folds samples in a
    :class:`~cloud.telemetry._batch.SampleBatch` and makes these only for the InfluxDB sink)."""

    unit_id: str
    machine: str
    metric: str
    time: datetime
    value: bool | int | float | str | None
    quality: str


class TelemetryChunk(Base):
    """The embedded sink's store: one machine's samples from one ingest batch, in one row.

    Bounded retention (long history belongs in InfluxDB). A row per sample cost the ingest more
    than anything else it does per message (about a third of its CPU and most of PostgreSQL's),
    so a batch's samples are stored per machine, as a column-store would: ``samples`` is a JSON
    array of ``[metric, microseconds after first_time, value, quality]`` — values keep their type
    (booleans, integers, floats, text). ``first_time`` / ``last_time`` bound the chunk's samples,
    so that a machine's time range reads few rows (the first index) and pruning finds old rows by
    time (the second, a BRIN on PostgreSQL: rows arrive roughly in time order).
    """

    __tablename__ = "telemetry_chunks"
    __table_args__ = (
        Index("ix_telemetry_chunks_machine_time", "unit_id", "machine", "last_time"),
        Index("ix_telemetry_chunks_last_time", "last_time", postgresql_using="brin"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    unit_id: Mapped[str] = mapped_column(String(64))
    machine: Mapped[str] = mapped_column(String(64))
    first_time: Mapped[datetime] = mapped_column(UtcDateTime)
    last_time: Mapped[datetime] = mapped_column(UtcDateTime)
    count: Mapped[int] = mapped_column(Integer)
    samples: Mapped[str] = mapped_column(Text)


class MetricRollup(Base):
    """min/mean/max/last of one machine metric over one minute (mean = total / count)."""

    __tablename__ = "metric_rollups"

    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    machine: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    minute: Mapped[datetime] = mapped_column(UtcDateTime, primary_key=True, index=True)
    count: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column(Float)
    minimum: Mapped[float] = mapped_column(Float)
    maximum: Mapped[float] = mapped_column(Float)
    last: Mapped[float] = mapped_column(Float)
    last_time: Mapped[datetime] = mapped_column(UtcDateTime)


class LatestMetric(Base):
    __tablename__ = "latest_metrics"

    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    machine: Mapped[str] = mapped_column(String(64), primary_key=True)
    metric: Mapped[str] = mapped_column(String(64), primary_key=True)
    time: Mapped[datetime] = mapped_column(UtcDateTime)
    value_number: Mapped[float | None] = mapped_column(Float, default=None)
    value_text: Mapped[str | None] = mapped_column(String(200), default=None)
    quality: Mapped[str] = mapped_column(String(16))


class RollupRead(BaseModel):
    metric: str
    minute: datetime
    count: int
    min: float
    mean: float
    max: float
    last: float


class SampleRead(BaseModel):
    metric: str
    time: datetime
    value: bool | int | float | str | None
    quality: str
