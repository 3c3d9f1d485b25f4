"""Per-minute rollups (min/mean/max/last) and the latest value of every machine metric.

Both are kept in the coordinator's database whichever sink stores the raw samples, so pages and
rules never query InfluxDB. Rollups accumulate: they are written in the ingest transaction that
also records the message ids, which keeps them exactly-once.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor
from cloud.database import BulkInsert
from cloud.exceptions import Conflict
from cloud.registry import service as registry_service
from cloud.registry.models import shares_telemetry
from cloud.telemetry._batch import SampleBatch
from cloud.telemetry.models import (
    SAMPLE_COLUMNS,
    LatestMetric,
    MetricRollup,
    RollupRead,
    SampleRead,
    TelemetryChunk,
)
from cloud.telemetry.sink import chunk_samples

_ROLLUP_COLUMNS = (
    "unit_id",
    "machine",
    "metric",
    "minute",
    "count",
    "total",
    "minimum",
    "maximum",
    "last",
    "last_time",
)
"""A rollup row's columns: its key (unit, machine, metric, minute), then a bucket's fields."""


def update_rollups(*, session: Session, samples: SampleBatch) -> None:
    """Fold numeric samples into their minute buckets (the batch has folded them already; the
    upsert adds them to what the database holds)."""
    rows = samples.rollup_rows()
    if rows:
        connection = session.connection()
        bulk, statement = _rollup_upsert(connection.dialect.name)
        connection.execute(statement, bulk.parameters(rows))


@functools.lru_cache(maxsize=4)
def _rollup_upsert(dialect: str) -> tuple[BulkInsert, Any]:
    """Built once per dialect; one statement text whatever the batch size."""
    table = MetricRollup.__table__.c
    bulk = BulkInsert.of(dialect, MetricRollup.__table__, _ROLLUP_COLUMNS)
    statement = bulk.statement
    new = statement.excluded
    newer = new.last_time >= table.last_time
    return bulk, statement.on_conflict_do_update(
        index_elements=["unit_id", "machine", "metric", "minute"],
        set_={
            "count": table.count + new.count,
            "total": table.total + new.total,
            "minimum": case((new.minimum < table.minimum, new.minimum), else_=table.minimum),
            "maximum": case((new.maximum > table.maximum, new.maximum), else_=table.maximum),
            "last": case((newer, new.last), else_=table.last),
            "last_time": case((newer, new.last_time), else_=table.last_time),
        },
    )


def update_latest(*, session: Session, samples: SampleBatch) -> None:
    """Keep the newest value of every metric (text values too)."""
    rows = samples.latest_rows()
    if not rows:
        return
    connection = session.connection()
    bulk, statement = _latest_upsert(connection.dialect.name)
    connection.execute(statement, bulk.parameters(rows))


@functools.lru_cache(maxsize=4)
def _latest_upsert(dialect: str) -> tuple[BulkInsert, Any]:
    table = LatestMetric.__table__
    bulk = BulkInsert.of(dialect, table, SAMPLE_COLUMNS)
    new = bulk.statement.excluded
    return bulk, bulk.statement.on_conflict_do_update(
        index_elements=["unit_id", "machine", "metric"],
        set_={name: new[name] for name in ("time", "value_number", "value_text", "quality")},
        where=new.time >= table.c.time,
    )


def rollups(
    *,
    session: Session,
    actor: Actor,
    unit_id: str,
    machine: str,
    since: datetime,
    metric: str | None = None,
) -> list[RollupRead]:
    """A machine's rollup history, scoped like the machine itself; of a unit that does not
    share its telemetry, to its own plant alone."""
    registry_service.get_machine(session=session, actor=actor, unit_id=unit_id, machine=machine)
    registry_service.require_telemetry_visible(session=session, actor=actor, unit_id=unit_id)
    query = select(MetricRollup).where(
        MetricRollup.unit_id == unit_id,
        MetricRollup.machine == machine,
        MetricRollup.minute >= since,
    )
    if metric is not None:
        query = query.where(MetricRollup.metric == metric)
    query = query.order_by(MetricRollup.metric, MetricRollup.minute).limit(10_000)
    return [
        RollupRead(
            metric=row.metric,
            minute=row.minute,
            count=row.count,
            min=row.minimum,
            mean=row.total / row.count,
            max=row.maximum,
            last=row.last,
        )
        for row in session.scalars(query)
    ]


def samples(
    *,
    session: Session,
    actor: Actor,
    unit_id: str,
    machine: str,
    since: datetime,
    limit: int,
    metric: str | None = None,
) -> list[SampleRead]:
    """A machine's newest ``limit`` raw samples since ``since``, in time order, from the embedded
    store; scoped like the machine itself. (No upper bound: a device clock may run ahead.)

    Chunks are read newest first and reading stops once no older chunk can hold one of the
    newest ``limit`` samples, so a long window costs no more than its last samples.

    A unit that does not share its telemetry has none stored: its own plant is told so (409).
    """
    registry_service.get_machine(session=session, actor=actor, unit_id=unit_id, machine=machine)
    registry_service.require_telemetry_visible(session=session, actor=actor, unit_id=unit_id)
    unit = registry_service.get_unit_row(session=session, unit_id=unit_id)
    if not shares_telemetry(unit.sharing_policy):
        raise Conflict(
            f"unit {unit_id!r} does not share its telemetry (sharing_policy.share_telemetry is"
            " false): the coordinator stores none of its raw samples; read the per-minute rollups"
        )
    query = (
        select(TelemetryChunk.first_time, TelemetryChunk.last_time, TelemetryChunk.samples)
        .where(
            TelemetryChunk.unit_id == unit_id,
            TelemetryChunk.machine == machine,
            TelemetryChunk.last_time >= since,
        )
        .order_by(TelemetryChunk.last_time.desc(), TelemetryChunk.id.desc())
        .execution_options(yield_per=200)
    )
    found: list[tuple[str, datetime, bool | int | float | str | None, str]] = []
    oldest_kept: datetime | None = None
    chunks = session.execute(query)
    try:
        for first_time, last_time, encoded in chunks:
            if oldest_kept is not None and last_time < oldest_kept:
                break  # this chunk's samples, and every older chunk's, are older than the kept
            found.extend(
                sample
                for sample in chunk_samples(first_time, encoded)
                if sample[1] >= since and (metric is None or sample[0] == metric)
            )
            if len(found) >= limit:
                found.sort(key=_time, reverse=True)
                del found[limit:]
                oldest_kept = found[-1][1]
    finally:
        chunks.close()
    found.sort(key=_time)
    return [
        SampleRead(metric=name, time=time, value=value, quality=quality)
        for name, time, value, quality in found[-limit:]
    ]


def _time(sample: tuple[str, datetime, Any, str]) -> datetime:
    return sample[1]


def prune(
    *, session: Session, now: datetime, rollup_retention: timedelta, sample_retention: timedelta
) -> None:
    """Bound the rollups and the embedded samples."""
    session.execute(delete(MetricRollup).where(MetricRollup.minute < now - rollup_retention))
    session.execute(delete(TelemetryChunk).where(TelemetryChunk.last_time < now - sample_retention))
