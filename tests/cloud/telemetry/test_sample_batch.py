"""The compiled sample batch (cloud/telemetry/_batch.pyx) against a plain reference.

The batch folds every sample once, in C integers; the reference here does the same work the
obvious way, with datetimes, for random samples in random time zones, values of every type,
several units, machines, metrics and minutes.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.telemetry import _batch
from cloud.telemetry._batch import SampleBatch
from cloud.telemetry.models import SampleRecord
from cloud.telemetry.sink import chunk_samples
from protocols import messages

START = datetime(2030, 3, 31, 23, 58, tzinfo=UTC)

offsets = st.sampled_from([0, 60, 120, -300, 345, 330, -570]).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
values = st.one_of(
    st.booleans(),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.sampled_from(["P-7", "", "auto"]),
)
records = st.builds(
    lambda unit, machine, metric, micros, zone, value, quality: SampleRecord(
        unit,
        machine,
        metric,
        (START + timedelta(microseconds=micros)).astimezone(zone),
        value,
        quality,
    ),
    st.sampled_from(["plant-a", "plant-b"]),
    st.sampled_from(["mill-1", "lathe-2"]),
    st.sampled_from(["rpm", "temp", "program"]),
    st.integers(min_value=0, max_value=240_000_000),  # four minutes, across an hour and a day
    offsets,
    values,
    st.sampled_from(["good", "uncertain", "bad"]),
)


def _reference_rollups(samples: list[SampleRecord]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    groups: dict[tuple[Any, ...], list[SampleRecord]] = {}
    for sample in samples:
        if isinstance(sample.value, str):
            continue
        utc = sample.time.astimezone(UTC)
        key = (*sample[:3], utc.replace(second=0, microsecond=0))
        groups.setdefault(key, []).append(sample)
    out = {}
    for key, group in groups.items():
        numbers = [float(s.value) for s in group]
        last = max(range(len(group)), key=lambda i: (group[i].time, i))  # the later on a tie
        out[key] = (len(group), sum(numbers), min(numbers), max(numbers), numbers[last])
    return out


def _reference_latest(samples: list[SampleRecord]) -> dict[tuple[str, ...], SampleRecord]:
    newest: dict[tuple[str, ...], SampleRecord] = {}
    for sample in samples:
        current = newest.get(sample[:3])
        if current is None or sample.time >= current.time:
            newest[sample[:3]] = sample
    return newest


@settings(max_examples=200, deadline=None)
@given(st.lists(records, min_size=1, max_size=60))
def test_the_batch_folds_like_the_plain_reference(samples: list[SampleRecord]) -> None:
    batch = SampleBatch.of(samples)
    assert len(batch) == len(samples)
    kept = batch.records()
    assert len(kept) == len(samples)
    for machine in {s[:2] for s in samples}:  # machine by machine, each in arrival order
        assert [r for r in kept if r[:2] == machine] == [s for s in samples if s[:2] == machine]

    rollups = batch.rollup_rows()
    assert [tuple(r[k] for k in ("unit_id", "machine", "metric", "minute")) for r in rollups] == (
        sorted(_reference_rollups(samples))
    )
    for row in rollups:
        key = (row["unit_id"], row["machine"], row["metric"], row["minute"])
        count, total, minimum, maximum, last = _reference_rollups(samples)[key]
        assert (row["count"], row["minimum"], row["maximum"], row["last"]) == (
            count,
            minimum,
            maximum,
            last,
        )
        assert row["total"] == pytest.approx(total, rel=1e-12, abs=1e-6)
        assert row["minute"].tzinfo is UTC

    latest = {(r["unit_id"], r["machine"], r["metric"]): r for r in batch.latest_rows()}
    reference = _reference_latest(samples)
    assert latest.keys() == reference.keys()
    for key, row in latest.items():
        sample = reference[key]
        text = isinstance(sample.value, str)
        assert (row["time"], row["quality"]) == (sample.time, sample.quality)
        assert row["value_text"] == (sample.value if text else None)
        assert row["value_number"] == (None if text else float(sample.value))

    chunks = batch.chunk_rows()
    for row in chunks:
        mine = [s for s in samples if s[:2] == (row["unit_id"], row["machine"])]
        assert row["count"] == len(mine)
        assert row["first_time"] == min(s.time for s in mine)
        assert row["last_time"] == max(s.time for s in mine)
        decoded = chunk_samples(row["first_time"], row["samples"])
        assert decoded == [(s.metric, s.time, s.value, s.quality) for s in mine]
        assert [type(value) for _, _, value, _ in decoded] == [type(s.value) for s in mine]
    assert sum(row["count"] for row in chunks) == len(samples)

    events = {(e["unit_id"], e["machine"]): e["metrics"] for e in batch.events("telemetry")}
    for (unit, machine), metrics in events.items():
        arrived = {s.metric: s.value for s in samples if s[:2] == (unit, machine)}
        assert metrics == arrived


def test_a_message_s_samples_are_added_as_the_protocol_gives_them() -> None:
    body = messages.TelemetryBatch.model_validate_json(
        json.dumps(
            {
                "samples": [
                    {
                        "machine": "mill-1",
                        "metric": "rpm",
                        "value": 1200,
                        "source_time": "2030-01-01T12:00:00.5+02:00",
                    },
                    {
                        "machine": "mill-1",
                        "metric": "rpm",
                        "value": 900.5,
                        "source_time": "2030-01-01T10:00:59.999999Z",
                        "quality": "bad",
                    },
                ]
            }
        )
    )
    batch = SampleBatch()
    batch.add("plant-a", body.samples)
    (row,) = batch.rollup_rows()
    assert row["minute"] == datetime(2030, 1, 1, 10, 0, tzinfo=UTC)
    assert (row["count"], row["total"], row["last"]) == (2, 2100.5, 900.5)
    assert [r.quality for r in batch.records()] == ["good", "bad"]
    assert json.loads(batch.chunk_rows()[0]["samples"]) == [
        ["rpm", 0, 1200, "good"],
        ["rpm", 59_499_999, 900.5, "bad"],
    ]


def test_bad_sample_times_are_refused_with_a_clear_error() -> None:
    naive = SampleRecord("plant-a", "mill-1", "rpm", datetime(2030, 1, 1), 1.0, "good")
    with pytest.raises(ValueError, match="time zone"):
        SampleBatch.of([naive])
    text_time: Any = "2030-01-01T00:00:00Z"
    with pytest.raises(TypeError, match="must be a datetime"):
        SampleBatch.of([("plant-a", "mill-1", "rpm", text_time, 1.0, "good")])


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_values_that_are_no_finite_number_are_refused(value: float) -> None:
    at = datetime(2030, 1, 1, tzinfo=UTC)
    batch = SampleBatch.of([SampleRecord("plant-a", "mill-1", "rpm", at, 1.0, "good")])
    with pytest.raises(ValueError, match="must be finite"):
        SampleBatch.of([SampleRecord("plant-a", "mill-1", "rpm", at, value, "good")])
    assert len(batch) == 1


def test_the_batch_is_the_compiled_module() -> None:
    assert _batch.__file__ is not None and _batch.__file__.endswith(".so")


def test_times_in_a_zone_with_daylight_saving_time_keep_their_instants() -> None:
    """Berlin goes from UTC+1 to UTC+2 at 01:00 UTC on 2030-03-31: the same zone object gives
    two offsets, and each sample keeps its own instant."""
    berlin = ZoneInfo("Europe/Berlin")
    before = datetime(2030, 3, 31, 0, 59, 59, tzinfo=UTC).astimezone(berlin)
    after = datetime(2030, 3, 31, 1, 0, 1, tzinfo=UTC).astimezone(berlin)
    assert before.tzinfo is after.tzinfo and before.utcoffset() != after.utcoffset()
    batch = SampleBatch.of(
        [
            SampleRecord("plant-a", "mill-1", "rpm", before, 1.0, "good"),
            SampleRecord("plant-a", "mill-1", "rpm", after, 2.0, "good"),
            SampleRecord("plant-a", "mill-1", "rpm", before, 3.0, "good"),
        ]
    )
    assert [(r["minute"], r["count"], r["last"]) for r in batch.rollup_rows()] == [
        (datetime(2030, 3, 31, 0, 59, tzinfo=UTC), 2, 3.0),
        (datetime(2030, 3, 31, 1, 0, tzinfo=UTC), 1, 2.0),
    ]
    assert json.loads(batch.chunk_rows()[0]["samples"]) == [
        ["rpm", 0, 1.0, "good"],
        ["rpm", 2_000_000, 2.0, "good"],
        ["rpm", 0, 3.0, "good"],
    ]
