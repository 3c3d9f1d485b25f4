"""The telemetry sink port and its two adapters: the embedded store and InfluxDB v2.

A sink receives the accepted samples of one ingest batch (a
:class:`~cloud.telemetry._batch.SampleBatch`) together with the batch's database
session. The embedded sink writes in that transaction (exactly once with the de-duplication);
the InfluxDB sink hands points to ``influxdb-client``'s batching writer, which retries in the
background. A point repeated after a crash overwrites itself (same series and timestamp), so the
InfluxDB path is idempotent as well.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, Protocol

from influxdb_client import InfluxDBClient, Point, WriteOptions
from influxdb_client.client.exceptions import InfluxDBError
from sqlalchemy.orm import Session
from urllib3.exceptions import HTTPError

from cloud.config import SinkKind, TelemetrySettings
from cloud.exceptions import DatabaseError, TelemetrySinkError
from cloud.operations.metrics import Metrics
from cloud.telemetry._batch import SampleBatch
from cloud.telemetry.models import SampleRecord, TelemetryChunk

_LOGGER = logging.getLogger(__name__)
MEASUREMENT = "machine"


class TelemetrySink(Protocol):
    name: str

    def write(self, session: Session, samples: SampleBatch) -> None: ...

    def close(self) -> None: ...


class EmbeddedSink:
    """Samples in the coordinator's own database (bounded retention, see the pruning).

    This is the hottest insert of the coordinator, so a batch's samples are stored as one row per
    machine (:class:`~cloud.telemetry.models.TelemetryChunk`): a few rows per batch instead of a
    row per sample.
    """

    name = "embedded"

    def write(self, session: Session, samples: SampleBatch) -> None:
        rows = samples.chunk_rows()
        if rows:
            session.connection().execute(_CHUNKS.insert(), rows)

    def close(self) -> None:
        return None


_CHUNKS: Any = TelemetryChunk.__table__


def chunk_samples(
    first_time: datetime, encoded: str
) -> list[tuple[str, datetime, bool | int | float | str | None, str]]:
    """A chunk's samples as ``(metric, time, value, quality)``, in the order they were stored."""
    try:
        return [
            (metric, first_time + timedelta(microseconds=offset), value, quality)
            for metric, offset, value, quality in json.loads(encoded)
        ]
    except (ValueError, TypeError) as exc:
        raise DatabaseError(f"a stored telemetry chunk is unreadable: {exc}") from exc


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
            url=settings.influx_url,
            token=settings.influx_token.get_secret_value(),
            org=settings.influx_org,
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

    def write(self, session: Session, samples: SampleBatch) -> None:
        # A point needs a field value: a Bad sample without one (protocol 1.2) is not written;
        # the latest-value table still records it.
        points = [
            _point(self._network, sample)
            for sample in samples.records()
            if sample.value is not None
        ]
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


def _point(network: str, sample: SampleRecord) -> Point:
    assert sample.value is not None
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
