"""Background tasks that do not die silently: one that fails is logged with its traceback,
counted in ``glonet_task_restarts_total{task}`` and started again."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from cloud.operations.metrics import Metrics

_LOGGER = logging.getLogger(__name__)
DEFAULT_RESTART_DELAY = 1.0
"""Before a task that failed is started again (a bug that fails at once does not spin)."""


async def supervise(
    name: str,
    run: Callable[[], Awaitable[None]],
    *,
    metrics: Metrics | None,
    restart_delay: float = DEFAULT_RESTART_DELAY,
) -> None:
    """Run ``run()`` until cancelled; whenever it fails, log and count it, and run it again."""
    while True:
        try:
            await run()
        except asyncio.CancelledError:
            raise
        except Exception:
            _LOGGER.exception("the background task %s failed; restarting it", name)
            if metrics is not None:
                metrics.task_restarts.inc(1, task=name)
            await asyncio.sleep(restart_delay)


async def cancel_all(tasks: Sequence[asyncio.Task[Any]], *, name: str) -> None:
    """Cancel ``tasks`` and wait until each has ended; one that fails while ending is logged
    (as ``name``'s) and the others are still waited for."""
    for task in tasks:
        task.cancel()
    for task in tasks:
        try:
            await task
        except asyncio.CancelledError:
            pass
        except Exception:  # supervised tasks do not end so; stopping goes on anyway
            _LOGGER.exception("a %s task failed while stopping", name)
