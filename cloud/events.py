"""In-process fan-out of live events to server-sent-event streams (any domain may publish);
:mod:`cloud.event_bus` carries them to the other coordinator processes.

Each subscriber has a bounded queue; a subscriber too slow to keep up loses its oldest events
rather than slowing the publisher (the page reloads state on reconnect anyway).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

Event = dict[str, Any]
DEFAULT_QUEUE_SIZE = 1000


class EventBroadcaster:
    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._relay: Callable[[Event], None] | None = None

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def relay_to(self, relay: Callable[[Event], None] | None) -> None:
        """Also hand every event published here to ``relay`` (the bus to the other coordinator
        processes, :mod:`cloud.event_bus`); None stops."""
        self._relay = relay

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every subscriber here and to the relay; call from the event loop."""
        self.deliver(event)
        if self._relay is not None:
            self._relay(event)

    def deliver(self, event: Event) -> None:
        """Hand ``event`` to this process's subscribers only (one that came over the relay)."""
        for queue in self._subscribers:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[Event]]:
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)


def sse_frame(event: Event) -> bytes:
    """One server-sent event; the event type is the SSE ``event`` field."""
    data = json.dumps(event, default=str)
    return f"event: {event.get('type', 'message')}\ndata: {data}\n\n".encode()


async def sse_stream(
    broadcaster: EventBroadcaster,
    visible: Callable[[Event], bool],
    *,
    heartbeat: float = 15.0,
) -> AsyncIterator[bytes]:
    """Events ``visible`` to one client as SSE frames, with comment heartbeats."""
    async with broadcaster.subscribe() as queue:
        yield b": connected\n\n"
        while True:
            try:
                event = await asyncio.wait_for(queue.get(), timeout=heartbeat)
            except TimeoutError:
                yield b": heartbeat\n\n"
                continue
            if visible(event):
                yield sse_frame(event)
