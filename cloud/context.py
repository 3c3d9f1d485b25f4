"""What one coordinator process shares between its API, its ingest and its pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cloud.codesign.families import ProductFamily
from cloud.config import Settings
from cloud.dispatch.worker import Dispatcher
from cloud.event_bus import EventBus
from cloud.events import EventBroadcaster
from cloud.ingest.applier import Pipeline
from cloud.ingest.worker import IngestWorker
from cloud.operations.metrics import Metrics
from cloud.telemetry.sink import TelemetrySink


@dataclass
class AppContext:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    sink: TelemetrySink
    metrics: Metrics = field(default_factory=Metrics)
    broadcaster: EventBroadcaster = field(default_factory=EventBroadcaster)
    ingest: IngestWorker | None = None
    families: dict[str, ProductFamily] = field(default_factory=dict)
    dispatcher: Dispatcher | None = None
    event_bus: EventBus | None = None
    """The other coordinator processes' live events (:mod:`cloud.event_bus`), when it runs."""
    pipeline: Pipeline | None = None
    """Decodes and applies a message in this process, as the ingest would (a dead letter's
    retry)."""

    async def counted_stream(self, stream: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
        """Pass ``stream`` through while counting it as a connected SSE client."""
        self.metrics.sse_clients.inc(1)
        try:
            async for chunk in stream:
                yield chunk
        finally:
            self.metrics.sse_clients.inc(-1)
