"""codec.encode_telemetry: the gateway's fast path gives the same message as the models."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from protocols import ProtocolError, codec, messages
from protocols.enums import Quality

T0 = datetime(2026, 11, 22, 8, 0, 0, 123456, tzinfo=UTC)
SENSOR_FAILURE = (0x808C0000, "BadSensorFailure")
ROWS = [
    ("laser-1", "power", 12.5, T0, Quality.GOOD, None),
    ("laser-1", "door_open", False, T0, Quality.UNCERTAIN, (0x40000000, "Uncertain")),
    ("laser-1", "parts", 7, T0 + timedelta(seconds=1), Quality.GOOD, None),
    ("laser-1", "program", "P-17", T0.astimezone(timezone(timedelta(hours=1))), Quality.BAD, None),
    ("laser-1", "big", 1e20, T0, Quality.GOOD, None),
    ("laser-1", "power", None, T0, Quality.BAD, SENSOR_FAILURE),
]


def test_rows_decode_to_the_same_message_as_the_models():
    payload = codec.encode_telemetry(unit="cut-co", seq=42, samples=ROWS)
    decoded = codec.decode(payload, expected=messages.Telemetry)
    expected = messages.TelemetryBatch(
        samples=[
            messages.Sample(
                machine=m,
                metric=k,
                value=v,
                source_time=t,
                quality=q,
                status_code=status[0] if status else None,
                status=status[1] if status else None,
            )
            for m, k, v, t, q, status in ROWS
        ]
    )
    assert decoded.body == expected
    assert decoded.unit == "cut-co" and decoded.seq == 42
    types = [type(s.value) for s in decoded.body.samples]
    assert types == [float, bool, int, str, float, type(None)]
    bad = decoded.body.samples[-1]
    assert (bad.status_code, bad.status, bad.quality) == (*SENSOR_FAILURE, Quality.BAD)
    assert b'"status"' not in payload.split(b"power")[1].split(b"}")[0]  # Good: no status


@pytest.mark.parametrize(
    "row",
    [
        ("bad id!", "power", 1.0, T0, Quality.GOOD, None),
        ("laser-1", "power", float("nan"), T0, Quality.GOOD, None),
        ("laser-1", "power", "x" * 201, T0, Quality.GOOD, None),
        ("laser-1", "power", [1, 2], T0, Quality.GOOD, None),
        ("laser-1", "power", 2**64, T0, Quality.GOOD, None),
        ("laser-1", "power", -(2**63) - 1, T0, Quality.GOOD, None),
        ("laser-1", "power", 1.0, datetime(2026, 11, 22), Quality.GOOD, None),
        ("laser-1", "power", 1.0, T0, "good", None),
        ("laser-1", "power", None, T0, Quality.BAD, (2**32, "Bad")),
        ("laser-1", "power", None, T0, Quality.BAD, (0x80000000, "B" * 65)),
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
