"""Telemetry: rollups on both sinks, and the InfluxDB v2 path against a real VictoriaMetrics."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.config import Settings, TelemetrySettings
from cloud.context import AppContext
from cloud.database import transaction
from cloud.ingest import service as ingest_service
from cloud.main import create_app
from cloud.messaging.mqtt import InboundMessage
from cloud.operations.metrics import Metrics
from cloud.telemetry import charts
from cloud.telemetry import service as telemetry_service
from cloud.telemetry._batch import SampleBatch
from cloud.telemetry.models import (
    LatestMetric,
    MetricRollup,
    SampleRecord,
    TelemetryChunk,
)
from cloud.telemetry.sink import EmbeddedSink, InfluxSink, TelemetrySink
from glonet.broker import free_port, wait_for_port
from protocols import codec, messages, topics
from tests.cloud.conftest import Tenants, populate, stored_samples
from tests.waiting import wait_until


def _decoded(
    context: AppContext, machine: str, samples: list[dict[str, Any]], seq: int = 1
) -> ingest_service.Decoded:
    """A telemetry message of plant-a's ``machine``, decoded as the ingest decodes it."""
    network = context.settings.network
    message = messages.Telemetry.create(unit="plant-a", seq=seq, body={"samples": samples})
    inbound = InboundMessage(
        topic=topics.telemetry(network, "plant-a", machine),
        payload=codec.encode(message),
        mid=1,
        qos=1,
        retain=False,
    )
    # The samples sit at fixed instants in 2030 so minutes fall where the rollups expect them;
    # the rule against samples from the future has its own tests (test_poison.py).
    decoded = ingest_service.decode(
        inbound, network=network, max_payload=1 << 20, max_future_skew=None
    )
    assert decoded is not None
    return decoded


def _batch(context: AppContext, values: list[float], start: datetime) -> ingest_service.Decoded:
    samples = [
        {
            "machine": "mill-1",
            "metric": "spindle_rpm",
            "value": value,
            "source_time": start + timedelta(seconds=index),
        }
        for index, value in enumerate(values)
    ]
    return _decoded(context, "mill-1", samples)


def _apply(context: AppContext, sink: TelemetrySink, *batches: ingest_service.Decoded) -> None:
    ingest_service.apply_batch(
        session_factory=context.session_factory,
        network=context.settings.network,
        batch=list(batches),
        sink=sink,
        metrics=context.metrics,
    )


@pytest.fixture
def context(plant_context: AppContext) -> AppContext:
    return plant_context


def _rollups(context: AppContext) -> list[MetricRollup]:
    with context.session_factory() as session:
        return list(session.scalars(select(MetricRollup).order_by(MetricRollup.minute)))


def test_rollups_accumulate_min_mean_max_last_per_minute(context: AppContext) -> None:
    minute = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    _apply(context, EmbeddedSink(), _batch(context, [5.0, 1.0, 9.0], minute))
    _apply(context, EmbeddedSink(), _batch(context, [3.0], minute + timedelta(seconds=30)))
    _apply(context, EmbeddedSink(), _batch(context, [7.0], minute + timedelta(minutes=1)))
    first, second = _rollups(context)
    assert (first.count, first.minimum, first.maximum, first.last) == (4, 1.0, 9.0, 3.0)
    assert first.total / first.count == 4.5
    assert (second.count, second.last) == (1, 7.0)
    stored = stored_samples(context.session_factory)
    assert len(stored) == 5
    assert stored[0] == ("plant-a", "mill-1", "spindle_rpm", minute, 5.0, "good")


def test_a_bad_sample_without_a_value_is_stored_and_latest_but_not_rolled_up(
    context: AppContext,
) -> None:
    """Protocol 1.2: a Bad sample may carry ``null`` and its full StatusCode; the ingest
    accepts it, keeps it in the embedded store and as the latest value, and rolls up only
    the samples that have a number."""
    at = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
    samples: list[dict[str, Any]] = [
        {"machine": "mill-1", "metric": "spindle_rpm", "value": 1200.0, "source_time": at},
        {
            "machine": "mill-1",
            "metric": "spindle_rpm",
            "value": None,
            "source_time": at + timedelta(seconds=1),
            "quality": "bad",
            "status_code": 0x808C0000,
            "status": "BadSensorFailure",
        },
    ]
    _apply(context, EmbeddedSink(), _decoded(context, "mill-1", samples))
    (rollup,) = _rollups(context)
    assert (rollup.count, rollup.last) == (1, 1200.0)
    stored = stored_samples(context.session_factory)
    assert [(s[4], s[5]) for s in stored] == [(1200.0, "good"), (None, "bad")]
    with context.session_factory() as session:
        latest = session.scalars(select(LatestMetric)).one()
    assert (latest.value_number, latest.value_text, latest.quality) == (None, None, "bad")


def test_latest_values_keep_the_newest_sample_whatever_the_arrival_order(
    context: AppContext,
) -> None:
    at = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

    def write(*samples: tuple[str, int, bool | float | str, str]) -> None:
        records = [
            SampleRecord(
                "plant-a", "mill-1", metric, at + timedelta(seconds=second), value, quality
            )
            for metric, second, value, quality in samples
        ]
        with transaction(context.session_factory) as session:
            telemetry_service.update_latest(session=session, samples=SampleBatch.of(records))

    write(
        ("spindle_rpm", 10, 1200.0, "good"),
        ("program", 10, "P-7", "good"),
        ("spindle_rpm", 5, 900.0, "good"),  # older than the one before it in the batch
    )
    write(
        ("spindle_rpm", 0, 100.0, "bad"),  # older than the stored value: ignored
        ("program", 20, "P-8", "uncertain"),
        ("door_open", 0, True, "good"),
    )
    write(("door_open", 30, False, "good"))  # no text value in the whole batch
    with context.session_factory() as session:
        rows = session.scalars(select(LatestMetric)).all()
    assert {r.metric: (r.time, r.value_number, r.value_text, r.quality) for r in rows} == {
        "spindle_rpm": (at + timedelta(seconds=10), 1200.0, None, "good"),
        "program": (at + timedelta(seconds=20), None, "P-8", "uncertain"),
        "door_open": (at + timedelta(seconds=30), 0.0, None, "good"),
    }


def test_a_batch_mixing_seen_and_new_messages_applies_each_new_one_once(
    context: AppContext,
) -> None:
    start = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
    seen, new, other = (_batch(context, [float(i)] * 3, start) for i in range(3))
    _apply(context, EmbeddedSink(), seen)
    ignored = context.metrics.ignored.value(reason="duplicate")
    _apply(context, EmbeddedSink(), new, seen, other, new)
    values = [sample[4] for sample in stored_samples(context.session_factory)]
    assert sorted(values) == [0.0] * 3 + [1.0] * 3 + [2.0] * 3
    assert context.metrics.ignored.value(reason="duplicate") - ignored == 2


def test_embedded_chunks_keep_each_value_its_type_time_and_order(context: AppContext) -> None:
    """A batch is stored as one row per machine; reading it back gives every sample as it came:
    the same instant (in UTC), the value's own type, the quality, the arrival order."""
    cest = timezone(timedelta(hours=2))
    at = datetime(2030, 5, 1, 14, 30, 15, 250_000, tzinfo=cest)
    records = [
        SampleRecord("plant-a", "mill-1", "spindle_rpm", at, 1200, "good"),
        SampleRecord("plant-a", "lathe-2", "temperature", at, 21.5, "good"),
        SampleRecord("plant-a", "mill-1", "door_open", at - timedelta(seconds=3), True, "bad"),
        SampleRecord("plant-a", "mill-1", "program", at + timedelta(microseconds=7), "P-7", "good"),
        SampleRecord("plant-a", "mill-1", "feed", at, 0.1 + 0.2, "uncertain"),
    ]
    with transaction(context.session_factory) as session:
        EmbeddedSink().write(session, SampleBatch.of(records))
    with context.session_factory() as session:
        chunks = session.scalars(select(TelemetryChunk).order_by(TelemetryChunk.id)).all()
    assert [(c.machine, c.count) for c in chunks] == [("mill-1", 4), ("lathe-2", 1)]
    assert (chunks[0].first_time, chunks[0].last_time) == (
        at - timedelta(seconds=3),
        at + timedelta(microseconds=7),
    )
    stored = stored_samples(context.session_factory)
    expected = [tuple(records[i]) for i in (0, 2, 3, 4, 1)]  # by machine, in arrival order
    assert stored == expected
    assert [type(sample[4]) for sample in stored] == [int, bool, str, float, float]
    assert all(sample[3].utcoffset() == timedelta(0) for sample in stored)


def test_rollup_and_sample_retention_is_bounded(context: AppContext) -> None:
    old = datetime.now(UTC) - timedelta(days=3)
    _apply(context, EmbeddedSink(), _batch(context, [1.0], old))
    _apply(context, EmbeddedSink(), _batch(context, [2.0], datetime.now(UTC)))
    with transaction(context.session_factory) as session:
        telemetry_service.prune(
            session=session,
            now=datetime.now(UTC),
            rollup_retention=timedelta(days=1),
            sample_retention=timedelta(days=1),
        )
    assert [r.last for r in _rollups(context)] == [2.0]
    assert [sample[4] for sample in stored_samples(context.session_factory)] == [2.0]


@pytest.fixture(scope="module")
def victoria_metrics(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    executable = shutil.which("victoria-metrics")
    if executable is None:
        pytest.fail("victoria-metrics is not installed (make installs it with apt)")
    port = free_port()
    process = subprocess.Popen(
        [
            executable,
            f"-storageDataPath={tmp_path_factory.mktemp('vm')}",
            f"-httpListenAddr=127.0.0.1:{port}",
            "-retentionPeriod=1y",
            "-loggerLevel=ERROR",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_for_port("127.0.0.1", port, 15), "victoria-metrics did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


def _export(base_url: str, network: str) -> list[dict]:
    httpx.get(f"{base_url}/internal/force_flush").raise_for_status()  # make recent rows visible
    response = httpx.get(
        f"{base_url}/api/v1/export",
        params={"match[]": f'{{__name__=~"machine_.*",network="{network}"}}'},
    )
    response.raise_for_status()
    return [json.loads(line) for line in response.text.splitlines() if line]


@pytest.mark.integration
def test_influx_sink_writes_points_and_rollups_stay_in_the_database(
    context: AppContext, victoria_metrics: str
) -> None:
    telemetry = TelemetrySettings(
        sink="influxdb", influx_url=victoria_metrics, influx_flush_interval_ms=100
    )
    sink = InfluxSink(telemetry, context.metrics, network=context.settings.network)
    # Whole minute, so the three samples (one second apart) fall into one per-minute rollup.
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
    _apply(context, sink, _batch(context, [10.0, 20.0, 30.0], start))
    sink.close()  # flushes the batching writer

    series = wait_until(
        lambda: _export(victoria_metrics, context.settings.network), 15, "the exported series"
    )
    assert len(series) == 1
    assert series[0]["metric"]["__name__"] == "machine_spindle_rpm"
    assert series[0]["metric"]["machine"] == "mill-1"
    assert series[0]["metric"]["unit"] == "plant-a"
    assert series[0]["values"] == [10.0, 20.0, 30.0]
    assert series[0]["timestamps"][0] == int(start.timestamp() * 1000)
    assert context.metrics.sink_writes.value(sink="influxdb", result="ok") == 1
    assert [r.count for r in _rollups(context)] == [3]
    assert stored_samples(context.session_factory) == []


def test_influx_failures_are_counted_not_fatal(context: AppContext) -> None:
    telemetry = TelemetrySettings(
        sink="influxdb",
        influx_url=f"http://127.0.0.1:{free_port()}",
        influx_flush_interval_ms=50,
        influx_max_retries=0,
    )
    metrics = Metrics()
    sink = InfluxSink(telemetry, metrics, network=context.settings.network)
    _apply(context, sink, _batch(context, [1.0], datetime.now(UTC)))
    sink.close()
    assert metrics.sink_writes.value(sink="influxdb", result="failed") == 1
    assert [r.count for r in _rollups(context)] == [1]


def test_rollup_history_and_latest_values_over_the_api(
    client: TestClient, tenants: Tenants
) -> None:
    context = tenants.context
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    samples = [
        {
            "machine": "m1",
            "metric": "spindle_rpm",
            "value": v,
            "source_time": now + timedelta(seconds=i),
        }
        for i, v in enumerate([100.0, 300.0, 200.0])
    ]
    samples.append({"machine": "m1", "metric": "program", "value": "P-7", "source_time": now})
    _apply(context, EmbeddedSink(), _decoded(context, "m1", samples))

    headers = tenants.headers("plant-a")
    history = client.get("/api/machines/plant-a/m1/rollups?minutes=5", headers=headers).json()
    assert history == [
        {
            "metric": "spindle_rpm",
            "minute": now.isoformat().replace("+00:00", "Z"),
            "count": 3,
            "min": 100.0,
            "mean": 200.0,
            "max": 300.0,
            "last": 200.0,
        }
    ]
    machine = client.get("/api/machines/plant-a/m1", headers=headers).json()
    assert machine["latest_metrics"] == {"spindle_rpm": 200.0, "program": "P-7"}
    other = client.get("/api/machines/plant-b/m1/rollups", headers=headers)
    assert other.status_code == 404
    raw = client.get("/api/machines/plant-a/m1/samples?minutes=5", headers=headers).json()
    assert [(s["metric"], s["value"]) for s in raw] == [
        ("spindle_rpm", 100.0),
        ("program", "P-7"),  # same time as the first: arrival order kept
        ("spindle_rpm", 300.0),
        ("spindle_rpm", 200.0),
    ]
    assert raw[0] == {
        "metric": "spindle_rpm",
        "time": now.isoformat().replace("+00:00", "Z"),
        "value": 100.0,
        "quality": "good",
    }
    program = client.get("/api/machines/plant-a/m1/samples?metric=program", headers=headers)
    assert [s["value"] for s in program.json()] == ["P-7"]
    other = client.get("/api/machines/plant-b/m1/samples", headers=headers)
    assert other.status_code == 404
    too_many = client.get("/api/machines/plant-a/m1/samples?limit=100000", headers=headers)
    assert too_many.status_code == 422


def test_raw_samples_are_the_newest_even_when_chunks_overlap_in_time(
    client: TestClient, tenants: Tenants
) -> None:
    """Chunks are read newest first and reading stops early; a chunk whose samples interleave
    with the next one's in time must not make it stop too soon."""
    context = tenants.context
    start = datetime.now(UTC) - timedelta(minutes=1)

    def batch(seq: int, *seconds: int) -> None:
        samples = [
            {
                "machine": "m1",
                "metric": "count",
                "value": s,
                "source_time": start + timedelta(seconds=s),
            }
            for s in seconds
        ]
        _apply(context, EmbeddedSink(), _decoded(context, "m1", samples, seq))

    batch(1, 0, 10)  # newest chunk (last sample at 10 s) but also the oldest sample
    batch(2, 5)
    batch(3, 1, 2)
    headers = tenants.headers("plant-a")
    for limit, expected in [(1, [10]), (2, [5, 10]), (3, [2, 5, 10]), (9, [0, 1, 2, 5, 10])]:
        response = client.get(f"/api/machines/plant-a/m1/samples?limit={limit}", headers=headers)
        assert [s["value"] for s in response.json()] == expected, limit


def test_raw_samples_with_the_influxdb_sink_point_there(
    settings_factory: Callable[..., Settings],
) -> None:
    settings = settings_factory(telemetry={"sink": "influxdb"})
    with TestClient(create_app(settings)) as client:
        tenants = populate(client.app.state.context)  # type: ignore[attr-defined]
        response = client.get(
            "/api/machines/plant-a/m1/samples", headers=tenants.headers("plant-a")
        )
        client.cookies.set("glonet_key", tenants.keys["plant-a"])
        page = client.get("/machines/plant-a/m1")
    assert response.status_code == 409
    assert response.json()["error"] == "conflict"
    assert "InfluxDB" in response.json()["message"]
    assert page.status_code == 200
    assert "Raw samples are kept in InfluxDB" in page.text
    assert 'id="samples"' not in page.text


def test_machine_page_shows_charts_and_latest_samples_in_scope(
    client: TestClient, tenants: Tenants
) -> None:
    context = tenants.context
    now = datetime.now(UTC) - timedelta(minutes=2)
    samples = [
        {
            "machine": "m1",
            "metric": "spindle_rpm",
            "value": v,
            "source_time": now + timedelta(seconds=i),
        }
        for i, v in enumerate([100.0, 300.0])
    ]
    samples.append(
        {
            "machine": "m1",
            "metric": "program",
            "value": "P-7",
            "source_time": now + timedelta(seconds=0.5),
        }
    )
    _apply(context, EmbeddedSink(), _decoded(context, "m1", samples))

    client.cookies.set("glonet_key", tenants.keys["plant-a"])
    page = client.get("/machines/plant-a/m1")
    assert page.status_code == 200
    assert 'data-metric="spindle_rpm"' in page.text  # a chart per numeric metric
    assert 'data-metric="program"' not in page.text  # text values have no rollups
    rows = [
        [cell.strip() for cell in row.split("</td><td>")]
        for row in page.text.split('<table id="samples">')[1].split("<tr><td>")[1:]
    ]
    assert [(r[1], r[2]) for r in rows] == [
        ("spindle_rpm", "300"),  # newest first
        ("program", "P-7"),
        ("spindle_rpm", "100"),
    ]
    # Two minutes of data fill the chart (in 10-second steps), not its last 2/60ths.
    chart = page.text.split('data-metric="spindle_rpm"')[1].split("</svg>")[0]
    assert "per 10 seconds" in page.text
    first_x = float(chart.split('<circle cx="')[1].split('"')[0])
    assert first_x < charts.LEFT + charts.PLOT_WIDTH / 2, chart
    other = client.get("/machines/plant-b/m1")
    assert other.status_code == 404 and 'id="problem"' in other.text
    client.cookies.set("glonet_key", tenants.keys["technician"])
    assert client.get("/machines/plant-a/m1").status_code == 403
    client.cookies.clear()
    assert client.get("/machines/plant-a/m1").status_code == 401
