"""Telemetry batching: samples are written once the notifications that brought them are handled,
one message per machine and write, and writes are limited to one per batch window."""

import asyncio
from datetime import UTC, datetime

from edge.uplink import TELEMETRY_WRITE_BURST
from protocols.enums import Quality
from tests.edge.fakes import Queue

HOUR_MS = 3_600_000


def _notifications(queue: Queue, machine: str, count: int) -> None:
    """What the OPC UA consumer does with one publish response: no await between samples."""
    now = datetime.now(UTC)
    for i in range(count):
        queue.uplink.add_sample(machine, f"m{i}", float(i), now, Quality.GOOD)


async def _let_run() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def _batches(queue: Queue) -> list[tuple[str, int]]:
    return [
        (message.body.samples[0].machine, len(message.body.samples)) for message in queue.sent()
    ]


async def test_a_publish_response_is_written_without_waiting_for_the_window(tmp_path):
    queue = Queue(tmp_path, telemetry={"batch_window_ms": HOUR_MS})
    task = asyncio.create_task(queue.uplink.run())
    _notifications(queue, "mill-1", 3)
    _notifications(queue, "lathe-2", 2)
    await _let_run()
    assert _batches(queue) == [("mill-1", 3), ("lathe-2", 2)]
    task.cancel()


async def test_writes_beyond_the_burst_wait_for_the_window_and_go_together(tmp_path):
    queue = Queue(tmp_path, telemetry={"batch_window_ms": HOUR_MS})
    task = asyncio.create_task(queue.uplink.run())
    for response in range(TELEMETRY_WRITE_BURST + 2):
        _notifications(queue, "mill-1", response + 1)
        await _let_run()
    written = [("mill-1", n + 1) for n in range(TELEMETRY_WRITE_BURST)]
    assert _batches(queue) == written  # the rest waits for the next window
    task.cancel()
    queue.uplink.flush_telemetry()  # as the gateway does when it stops
    held = (TELEMETRY_WRITE_BURST + 1) + (TELEMETRY_WRITE_BURST + 2)
    assert _batches(queue) == [*written, ("mill-1", held)]
