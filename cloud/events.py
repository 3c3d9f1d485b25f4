"""In-process fan-out of live events to server-sent-event streams (any domain may publish);
:mod:`cloud.event_bus` carries them to the other coordinator processes.

Each subscriber has a bounded queue; a subscriber too slow to keep up loses its oldest events
rather than slowing the publisher (the page reloads state on reconnect anyway).

A domain builds its events as :class:`BroadcastEvent` models and hands the broadcaster their
:meth:`~BroadcastEvent.wire` dicts, which the SSE stream and the bus send as JSON.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict

Event = dict[str, Any]
"""An event as the broadcaster carries it: its ``type`` and the fields the pages read."""
DEFAULT_QUEUE_SIZE = 1000


class BroadcastEvent(BaseModel):
    """A live event as a domain builds it: typed and frozen, its ``type`` first."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def wire(self) -> Event:
        """The event as the broadcaster carries it: every field, in JSON's types."""
        return self.model_dump(mode="json")


class EventBroadcaster:
    def __init__(self, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        # Each subscriber's queue and the event types it wants (None: all).
        self._subscribers: dict[asyncio.Queue[Event], frozenset[str] | None] = {}
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
        kind = event.get("type")
        for queue, types in self._subscribers.items():
            if types is not None and kind not in types:
                continue
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    @asynccontextmanager
    async def subscribe(
        self, types: Iterable[str] | None = None
    ) -> AsyncIterator[asyncio.Queue[Event]]:
        """A queue of the events published from now on, only those of ``types`` if given (a
        background worker that waits for one kind is not handed every telemetry event)."""
        queue: asyncio.Queue[Event] = asyncio.Queue(self._queue_size)
        self._subscribers[queue] = frozenset(types) if types is not None else None
        try:
            yield queue
        finally:
            self._subscribers.pop(queue, None)


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
