"""A supervised background task that fails is logged, counted and started again."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from cloud.operations.metrics import Metrics
from cloud.operations.supervision import cancel_all, supervise


async def test_a_failing_task_is_counted_and_restarted_until_cancelled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = Metrics()
    runs = 0
    running = asyncio.Event()

    async def flaky() -> None:
        nonlocal runs
        runs += 1
        if runs <= 2:
            raise AssertionError(f"a bug in round {runs}")
        running.set()
        await asyncio.Event().wait()  # then runs for good

    task = asyncio.create_task(supervise("flaky", flaky, metrics=metrics, restart_delay=0.01))
    await asyncio.wait_for(running.wait(), 5)
    assert runs == 3
    assert metrics.task_restarts.value(task="flaky") == 2
    assert 'glonet_task_restarts_total{task="flaky"} 2' in metrics.render()
    assert "the background task flaky failed" in caplog.text and "a bug in round 1" in caplog.text
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert task.cancelled()


async def test_stopping_waits_for_every_task_even_when_one_fails_while_ending(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ended: list[str] = []

    async def clean() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            ended.append("clean")

    async def broken() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            raise RuntimeError("fails while ending") from None

    tasks = [asyncio.create_task(broken()), asyncio.create_task(clean())]
    await asyncio.sleep(0)  # both started
    await cancel_all(tasks, name="test")
    assert all(task.done() for task in tasks)
    assert ended == ["clean"]
    assert "a test task failed while stopping" in caplog.text
