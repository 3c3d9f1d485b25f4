"""The telemetry sink port and its two adapters: the embedded store and InfluxDB v2.

A sink receives the accepted samples of one ingest batch together with the batch's database
session. The embedded sink writes in that transaction (exactly once with the de-duplication);
the InfluxDB sink hands points to ``influxdb-client``'s batching writer, which retries in the
background. A point repeated after a crash overwrites itself (same series and timestamp), so the
InfluxDB path is idempotent as well.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from influxdb_client import InfluxDBClient, Point, WriteOptions
from influxdb_client.client.exceptions import InfluxDBError
from sqlalchemy.orm import Session
from urllib3.exceptions import HTTPError

from cloud.config import SinkKind, TelemetrySettings
from cloud.exceptions import TelemetrySinkError
from cloud.operations.metrics import Metrics
from cloud.telemetry.models import SampleRecord, TelemetrySample

_LOGGER = logging.getLogger(__name__)
MEASUREMENT = "machine"


class TelemetrySink(Protocol):
    name: str

    def write(self, session: Session, samples: Sequence[SampleRecord]) -> None: ...

    def close(self) -> None: ...


class EmbeddedSink:
    """Samples in the coordinator's own database (bounded retention, see the pruning).

    This is the hottest insert of the coordinator, so rows go to the driver's ``executemany``
    as tuples: SQLAlchemy's per-row parameter handling cost more than SQLite's own work. The
    time column's bind processor keeps the stored form exactly what SQLAlchemy writes.
    """

    name = "embedded"
    COLUMNS = ("unit_id", "machine", "metric", "time", "value_number", "value_text", "quality")

    def write(self, session: Session, samples: Sequence[SampleRecord]) -> None:
        if not samples:
            return
        connection = session.connection()
        dialect = connection.dialect
        to_db = TelemetrySample.__table__.c.time.type.bind_processor(dialect) or _identity
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        statement = (
            f"INSERT INTO {TelemetrySample.__tablename__} ({', '.join(self.COLUMNS)})"
            f" VALUES ({', '.join([marker] * len(self.COLUMNS))})"
        )
        rows = []
        for sample in samples:
            number = sample.number
            text = sample.value if number is None else None
            row = (sample.unit_id, sample.machine, sample.metric, to_db(sample.time))
            rows.append((*row, number, text, sample.quality))
        connection.exec_driver_sql(statement, rows)

    def close(self) -> None:
        return None


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
