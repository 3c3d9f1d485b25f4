"""The telemetry sink port and its two adapters: the embedded store and InfluxDB v2.

A sink receives the accepted samples of one ingest batch together with the batch's database
session. The embedded sink writes in that transaction (exactly once with the de-duplication);
the InfluxDB sink hands points to ``influxdb-client``'s batching writer, which retries in the
background. A point repeated after a crash overwrites itself (same series and timestamp), so the
InfluxDB path is idempotent as well.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import psycopg
from influxdb_client import InfluxDBClient, Point, WriteOptions
from influxdb_client.client.exceptions import InfluxDBError
from sqlalchemy import Connection
from sqlalchemy.orm import Session
from urllib3.exceptions import HTTPError

from cloud.config import SinkKind, TelemetrySettings
from cloud.exceptions import DatabaseError, TelemetrySinkError
from cloud.operations.metrics import Metrics
from cloud.telemetry.models import SAMPLE_COLUMNS, SampleRecord, TelemetrySample

_LOGGER = logging.getLogger(__name__)
MEASUREMENT = "machine"


class TelemetrySink(Protocol):
    name: str

    def write(self, session: Session, samples: Sequence[SampleRecord]) -> None: ...

    def close(self) -> None: ...


class EmbeddedSink:
    """Samples in the coordinator's own database (bounded retention, see the pruning).

    This is the hottest insert of the coordinator, so rows bypass the ORM: PostgreSQL gets them
    through a binary ``COPY`` (several times faster than an ``executemany`` of inserts, and half
    the cost of a text one), SQLite through the driver's ``executemany``. Each distinct time is
    converted once, by the column's own bind processor on SQLite, to a standard-library UTC
    datetime on PostgreSQL, so the stored form is exactly what the ORM writes and reads back.
    """

    name = "embedded"
    COLUMNS = SAMPLE_COLUMNS

    def write(self, session: Session, samples: Sequence[SampleRecord]) -> None:
        if not samples:
            return
        connection = session.connection()
        dialect = connection.dialect
        if dialect.name == "postgresql" and dialect.driver == "psycopg":
            _copy_rows(connection, _rows(samples, _utc))
            return
        # The column's processor for this dialect, as the ORM applies it (the generic type's
        # own processor would hand sqlite3 a datetime, stored in another text form).
        time_type = TelemetrySample.__table__.c.time.type
        to_db = time_type.dialect_impl(dialect).bind_processor(dialect)
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        statement = (
            f"INSERT INTO {TelemetrySample.__tablename__} ({', '.join(self.COLUMNS)})"
            f" VALUES ({', '.join([marker] * len(self.COLUMNS))})"
        )
        connection.exec_driver_sql(statement, _rows(samples, to_db or _identity))

    def close(self) -> None:
        return None


def _rows(samples: Sequence[SampleRecord], to_db: Callable[[Any], Any]) -> list[tuple[Any, ...]]:
    times: dict[datetime, Any] = {}
    rows: list[tuple[Any, ...]] = []
    for unit_id, machine, metric, time, value, quality in samples:
        stored = times.get(time)
        if stored is None:
            stored = times[time] = to_db(time)
        if isinstance(value, str):
            rows.append((unit_id, machine, metric, stored, None, value, quality))
        else:
            rows.append((unit_id, machine, metric, stored, float(value), None, quality))
    return rows


_COPY_TYPES = ("text", "text", "text", "timestamptz", "float8", "text", "text")
"""The PostgreSQL types of :attr:`EmbeddedSink.COLUMNS` as a binary ``COPY`` sends them (the
tests compare what it stores with what the ORM stores)."""


def _utc(time: datetime) -> datetime:
    """A standard-library UTC datetime: psycopg dumps it without calling back into the
    validator's own time zone class."""
    return time.astimezone(UTC)


def _copy_rows(connection: Connection, rows: list[tuple[Any, ...]]) -> None:
    """Binary ``COPY`` on the session's own psycopg connection, inside the batch's
    transaction."""
    statement = (
        f"COPY {TelemetrySample.__tablename__} ({', '.join(EmbeddedSink.COLUMNS)})"
        " FROM STDIN (FORMAT BINARY)"
    )
    driver = connection.connection.driver_connection
    assert driver is not None
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(list(_COPY_TYPES))
            for row in rows:
                copy.write_row(row)
    except psycopg.Error as exc:
        raise DatabaseError(f"storing telemetry samples failed: {exc.__class__.__name__}") from exc


class InfluxSink:
    """InfluxDB v2 write API, batched and retried by ``influxdb-client`` in its own thread.

    Each sample is a point of measurement ``machine`` tagged ``network``, ``unit``, ``machine``,
    ``quality`` with one field named after the metric. Failed batches are counted and logged,
    never fatal.
    """

    name = "influxdb"

    def __init__(self, settings: TelemetrySettings, metrics: Metrics, *, network: str) -> None:
        self._settings = settings
        self._network = network
        self._metrics = metrics
        self._client = InfluxDBClient(
            url=settings.influx_url, token=settings.influx_token, org=settings.influx_org
        )
        options = WriteOptions(
            batch_size=settings.influx_batch_size,
            flush_interval=settings.influx_flush_interval_ms,
            retry_interval=500,
            max_retries=settings.influx_max_retries,
            max_retry_delay=5_000,
        )
        self._writer = self._client.write_api(
            write_options=options,
            success_callback=self._on_success,
            error_callback=self._on_error,
            retry_callback=self._on_retry,
        )

    def write(self, session: Session, samples: Sequence[SampleRecord]) -> None:
        points = [_point(self._network, sample) for sample in samples]
        if not points:
            return
        try:
            self._writer.write(
                bucket=self._settings.influx_bucket, org=self._settings.influx_org, record=points
            )
        except (InfluxDBError, HTTPError, OSError) as exc:
            self._on_error(None, None, exc)

    def close(self) -> None:
        """Flush what is queued, then close the client."""
        try:
            self._writer.close()
            self._client.close()
        except (InfluxDBError, HTTPError, OSError) as exc:
            raise TelemetrySinkError(f"closing the InfluxDB sink failed: {exc}") from exc

    def _on_success(self, _conf: Any, data: Any) -> None:
        self._metrics.sink_writes.inc(1, sink=self.name, result="ok")

    def _on_error(self, _conf: Any, _data: Any, exc: BaseException) -> None:
        self._metrics.sink_writes.inc(1, sink=self.name, result="failed")
        _LOGGER.warning("InfluxDB write failed after retries: %s", exc)

    def _on_retry(self, _conf: Any, _data: Any, exc: BaseException) -> None:
        self._metrics.sink_writes.inc(1, sink=self.name, result="retried")
        _LOGGER.info("retrying an InfluxDB write: %s", exc)


def _identity(value: Any) -> Any:
    return value


def _point(network: str, sample: SampleRecord) -> Point:
    value: float | str = sample.value if isinstance(sample.value, str) else float(sample.value)
    return (
        Point(MEASUREMENT)
        .tag("network", network)
        .tag("unit", sample.unit_id)
        .tag("machine", sample.machine)
        .tag("quality", sample.quality)
        .field(sample.metric, value)
        .time(sample.time)
    )


def make_sink(settings: TelemetrySettings, metrics: Metrics, *, network: str) -> TelemetrySink:
    if settings.sink is SinkKind.INFLUXDB:
        return InfluxSink(settings, metrics, network=network)
    return EmbeddedSink()
