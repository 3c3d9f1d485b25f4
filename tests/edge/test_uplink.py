"""Telemetry batching: one message per machine and write; a write per OPC UA publish response
when the batch window is no longer than the publishing interval, else one per window."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from asyncua import ua

from protocols.enums import Quality
from tests.edge.fakes import Queue
from tests.waiting import eventually

HOUR_MS = 3_600_000


def _response(queue: Queue, machine: str, count: int) -> None:
    """What the OPC UA consumer does with one publish response: no await between samples."""
    now = datetime.now(UTC)
    for i in range(count):
        queue.uplink.add_sample(machine, f"m{i}", float(i), now, Quality.GOOD)


async def _let_run() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def _batches(queue: Queue) -> list[tuple[str, int]]:
    return [(m.body.samples[0].machine, len(m.body.samples)) for m in queue.sent()]


async def test_each_publish_response_is_written_without_waiting_for_a_window(tmp_path):
    telemetry = {"publishing_interval_ms": HOUR_MS, "batch_window_ms": HOUR_MS}
    queue = Queue(tmp_path, telemetry=telemetry)
    task = asyncio.create_task(queue.uplink.run())
    _response(queue, "mill-1", 3)
    _response(queue, "lathe-2", 2)
    await _let_run()
    assert _batches(queue) == [("mill-1", 3), ("lathe-2", 2)]
    _response(queue, "mill-1", 4)
    await _let_run()
    assert _batches(queue) == [("mill-1", 3), ("lathe-2", 2), ("mill-1", 4)]
    task.cancel()


async def test_a_window_longer_than_the_publishing_interval_gathers_responses(tmp_path):
    telemetry = {"publishing_interval_ms": 10, "batch_window_ms": HOUR_MS}
    queue = Queue(tmp_path, telemetry=telemetry)
    task = asyncio.create_task(queue.uplink.run())
    _response(queue, "mill-1", 3)
    await _let_run()
    _response(queue, "mill-1", 4)
    await _let_run()
    assert _batches(queue) == []  # waiting for the window
    task.cancel()
    queue.uplink.flush_telemetry()  # as the gateway does when it stops
    assert _batches(queue) == [("mill-1", 7)]


async def test_the_window_writes_what_it_gathered(tmp_path):
    queue = Queue(tmp_path, telemetry={"publishing_interval_ms": 10, "batch_window_ms": 20})
    task = asyncio.create_task(queue.uplink.run())
    _response(queue, "mill-1", 3)
    _response(queue, "mill-1", 4)

    async def sent() -> list[Any]:  # on the loop, like the uplink that writes the outbox
        return queue.sent()

    await eventually(sent, 5, "the window's batch")
    assert _batches(queue) == [("mill-1", 7)]
    task.cancel()


async def test_a_sample_the_protocol_would_refuse_is_skipped_alone(tmp_path):
    queue = Queue(tmp_path, telemetry={"publishing_interval_ms": HOUR_MS, "batch_window_ms": 10})
    now = datetime.now(UTC)
    for value in (1.0, float("inf"), 2**64, -(2**63), 2**64 - 1, "x" * 201, True):
        queue.uplink.add_sample("mill-1", "power", value, now, Quality.GOOD)
    queue.uplink.flush_telemetry()
    (message,) = queue.sent()
    assert [s.value for s in message.body.samples] == [1.0, -(2**63), 2**64 - 1, True]
    assert queue.metrics.value("samples_invalid_total") == 3


def test_bad_samples_keep_their_status_and_may_have_no_value(tmp_path):
    queue = Queue(tmp_path)
    now = datetime.now(UTC)
    failure = (0x808C0000, "BadSensorFailure")
    assert queue.uplink.add_sample("mill-1", "power", None, now, Quality.BAD, failure) is None
    assert queue.uplink.add_sample("mill-1", "power", 3.5, now, Quality.BAD, failure) is None
    assert queue.uplink.add_sample("mill-1", "power", 4.0, now, Quality.GOOD) is None
    assert queue.uplink.add_sample("mill-1", "power", None, now, Quality.GOOD) is not None
    queue.uplink.flush_telemetry()
    (message,) = queue.sent()
    samples = [(s.value, s.quality.value, s.status_code, s.status) for s in message.body.samples]
    assert samples == [
        (None, "bad", 0x808C0000, "BadSensorFailure"),
        (3.5, "bad", 0x808C0000, "BadSensorFailure"),
        (4.0, "good", None, None),
    ]
    assert queue.metrics.value("samples_invalid_total", reason="no_value") == 1


def test_a_value_of_a_type_the_protocol_cannot_carry_is_refused_with_the_reason(tmp_path):
    queue = Queue(tmp_path)
    now = datetime.now(UTC)
    reason = queue.uplink.add_sample("mill-1", "profile", [1, 2], now, Quality.GOOD)
    assert reason == "an array cannot be carried (booleans, numbers and texts can)"
    assert "bytes" in (queue.uplink.add_sample("mill-1", "blob", b"x", now, Quality.GOOD) or "")
    text = ua.LocalizedText("P-17")
    assert queue.uplink.add_sample("mill-1", "program", text, now, Quality.GOOD) is None
    queue.uplink.flush_telemetry()
    assert [s.value for m in queue.sent() for s in m.body.samples] == ["P-17"]
    assert queue.metrics.value("samples_invalid_total", reason="type") == 2
