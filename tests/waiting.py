"""The suite's one way to wait: poll an observable condition until it holds, or fail saying what
was awaited. Never a fixed sleep (STYLE.md, habit 17).

- ``wait_until(condition)`` from plain (thread) code;
- ``await eventually(condition)`` from a coroutine: a plain ``condition`` runs off the event loop
  (it may query a database or a socket), a coroutine function is awaited.

Both take ``(condition, timeout, what)``: ``what`` names the awaited thing in the failure.

Both return the first truthy result, so a test can wait for a thing and use it.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

DEFAULT_TIMEOUT = 20.0
"""Long enough for a loaded CI machine; a condition that holds returns at once."""
POLL_INTERVAL = 0.05


def wait_until(
    condition: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, what: str = ""
) -> Any:
    """Poll ``condition()`` until it returns something truthy; that result."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(_gave_up(timeout, what or condition))
        time.sleep(POLL_INTERVAL)


async def eventually(
    condition: Callable[[], Any], timeout: float = DEFAULT_TIMEOUT, what: str = ""
) -> Any:
    """Poll ``condition`` from the event loop until it returns something truthy; that result."""
    deadline = time.monotonic() + timeout
    while True:
        if inspect.iscoroutinefunction(condition):
            result = await condition()
        else:
            result = await asyncio.to_thread(condition)
            if inspect.isawaitable(result):  # a lambda around a coroutine
                result = await result
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(_gave_up(timeout, what or condition))
        await asyncio.sleep(POLL_INTERVAL)


def _gave_up(timeout: float, what: object) -> str:
    return f"timed out after {timeout:g} s waiting for {what}"
