"""codec.encode_telemetry: the gateway's fast path gives the same message as the models."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from protocols import ProtocolError, codec, messages
from protocols.enums import Quality

T0 = datetime(2026, 11, 22, 8, 0, 0, 123456, tzinfo=UTC)
ROWS = [
    ("laser-1", "power", 12.5, T0, Quality.GOOD),
    ("laser-1", "door_open", False, T0, Quality.UNCERTAIN),
    ("laser-1", "parts", 7, T0 + timedelta(seconds=1), Quality.GOOD),
    ("laser-1", "program", "P-17", T0.astimezone(timezone(timedelta(hours=1))), Quality.BAD),
    ("laser-1", "big", 1e20, T0, Quality.GOOD),
]


def test_rows_decode_to_the_same_message_as_the_models():
    payload = codec.encode_telemetry(unit="cut-co", seq=42, samples=ROWS)
    decoded = codec.decode(payload, expected=messages.Telemetry)
    expected = messages.TelemetryBatch(
        samples=[
            messages.Sample(machine=m, metric=k, value=v, source_time=t, quality=q)
            for m, k, v, t, q in ROWS
        ]
    )
    assert decoded.body == expected
    assert decoded.unit == "cut-co" and decoded.seq == 42
    assert [type(s.value) for s in decoded.body.samples] == [float, bool, int, str, float]


@pytest.mark.parametrize(
    "row",
    [
        ("bad id!", "power", 1.0, T0, Quality.GOOD),
        ("laser-1", "power", float("nan"), T0, Quality.GOOD),
        ("laser-1", "power", "x" * 201, T0, Quality.GOOD),
        ("laser-1", "power", [1, 2], T0, Quality.GOOD),
        ("laser-1", "power", 2**64, T0, Quality.GOOD),
        ("laser-1", "power", -(2**63) - 1, T0, Quality.GOOD),
        ("laser-1", "power", 1.0, datetime(2026, 11, 22), Quality.GOOD),
        ("laser-1", "power", 1.0, T0, "good"),
    ],
)
def test_rows_the_model_would_refuse_are_refused(row):
    with pytest.raises(ProtocolError) as info:
        codec.encode_telemetry(unit="cut-co", seq=1, samples=[row])
    assert info.value.reason.value == "invalid"


def test_empty_and_oversized_batches():
    with pytest.raises(ProtocolError):
        codec.encode_telemetry(unit="cut-co", seq=1, samples=[])
    with pytest.raises(ProtocolError) as info:
        codec.encode_telemetry(unit="cut-co", seq=1, samples=ROWS * 100, max_size=1000)
    assert info.value.reason.value == "too_large"
