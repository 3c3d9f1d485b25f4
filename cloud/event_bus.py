"""The live events of every coordinator process, in every other one.

A coordinator may run as several processes: an API-only ``serve`` beside ``glonet cloud ingest``
workers, or two ingest workers sharing the subscription. Each process's
:class:`~cloud.events.EventBroadcaster` fans events out to its own SSE clients and listeners
only; the bus carries them to the others over the broker the coordinator already uses. Each
process publishes what its broadcaster publishes — gathered over one event-loop turn into one
message on ``glonet/coordinator/v1/{network}/events/{origin}`` (QoS 0) — and hands its
subscribers what the others publish. Delivery is best effort, like the stream itself: an event
published while the broker is away is lost, and a page reloads state when it reconnects.
"""

from __future__ import annotations

import asyncio
import logging
import uuid

import orjson

from cloud.config import BusMode, MqttSettings, Settings
from cloud.events import Event, EventBroadcaster
from cloud.messaging.mqtt import InboundMessage, MqttLink, Outbound
from cloud.operations.metrics import Metrics
from cloud.operations.supervision import cancel_all
from protocols import topics

_LOGGER = logging.getLogger(__name__)
MAX_EVENTS_PER_MESSAGE = 500
RECEIVE_LIMIT = 100
_ENCODING = orjson.OPT_PASSTHROUGH_DATETIME
"""Datetimes as ``str()`` gives them, as :func:`cloud.events.sse_frame` writes local events."""


def wanted(settings: Settings, *, ingest_only: bool = False) -> bool:
    """Whether this process joins the bus (``ingest_only``: it is ``glonet cloud ingest``)."""
    mode = settings.events.bus
    if mode is not BusMode.AUTO:
        return mode is BusMode.ON
    return ingest_only or not settings.ingest.enabled or settings.mqtt.share_group is not None


class EventBus:
    """Relays one process's broadcaster to and from the other coordinator processes."""

    def __init__(
        self,
        *,
        settings: MqttSettings,
        network: str,
        broadcaster: EventBroadcaster,
        metrics: Metrics,
    ) -> None:
        self.origin = uuid.uuid4().hex[:16]
        self._topic = topics.coordinator_events(network, self.origin)
        self._broadcaster = broadcaster
        self._metrics = metrics
        self._pending: list[Event] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._link = MqttLink(
            settings.model_copy(update={"client_id": f"{settings.client_id}-events-{self.origin}"}),
            subscriptions=[topics.coordinator_events_filter(network)],
            will=None,
            on_connect=list,
            on_state=lambda up: metrics.event_bus_connected.set(1 if up else 0),
            persistent=False,
            qos=0,
        )

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._link.start(self._loop)
        self._broadcaster.relay_to(self.send)
        self._task = asyncio.create_task(self._receive(), name="event-bus")

    def wait_subscribed(self, timeout: float) -> bool:
        return self._link.wait_subscribed(timeout)

    async def stop(self) -> None:
        self._broadcaster.relay_to(None)
        self._flush()
        if self._task is not None:
            await cancel_all([self._task], name="event bus")
        await self._link.close()
        await asyncio.to_thread(self._link.stop)

    def send(self, event: Event) -> None:
        """Share ``event`` with the other processes (on the event loop, as the broadcaster's
        publishers are); the events of one loop turn travel together."""
        if not self._pending:
            assert self._loop is not None
            self._loop.call_soon(self._flush)
        self._pending.append(event)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        for start in range(0, len(pending), MAX_EVENTS_PER_MESSAGE):
            chunk = pending[start : start + MAX_EVENTS_PER_MESSAGE]
            payload = orjson.dumps(chunk, default=str, option=_ENCODING)
            if self._link.publish(Outbound(self._topic, payload, qos=0)):
                self._metrics.event_bus.inc(len(chunk), direction="sent")
            else:
                self._metrics.event_bus.inc(len(chunk), direction="lost")
                _LOGGER.debug("the broker is away: %d live events not shared", len(chunk))

    async def _receive(self) -> None:
        own = self._topic
        while True:
            for message in await self._link.receive(RECEIVE_LIMIT):
                if message.topic != own:
                    self._deliver(message)

    def _deliver(self, message: InboundMessage) -> None:
        if not self._broadcaster.subscribers:  # nobody listens here: not even decoded
            return
        try:
            events = orjson.loads(message.payload)
        except orjson.JSONDecodeError:
            events = None
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            _LOGGER.warning("ignored a live-event message on %s: not a list", message.topic)
            return
        self._metrics.event_bus.inc(len(events), direction="received")
        for event in events:
            self._broadcaster.deliver(event)
