"""The dispatcher: every tick, the process holding the scheduler lock runs one scheduler tick.

Ticks run in a thread (database and the compiled core), MQTT messages go out through the
coordinator's one MQTT connection after the tick's transaction committed, and live events go
to the pages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from cloud.config import Settings
from cloud.database import transaction, utcnow
from cloud.dispatch import flows
from cloud.dispatch.lock import SchedulerLock
from cloud.events import EventBroadcaster
from cloud.exceptions import CloudError

_LOGGER = logging.getLogger(__name__)
Publish = Callable[[str, bytes], bool]  # topic, payload → False while the broker is away


class Dispatcher:
    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        session_factory: sessionmaker[Session],
        publish: Publish,
        broadcaster: EventBroadcaster,
    ) -> None:
        self._settings = settings
        self._session_factory = session_factory
        self._publish = publish
        self._broadcaster = broadcaster
        self.lock = SchedulerLock(engine, settings.network)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dispatcher")

    def wake(self) -> None:
        """Run the next tick now (e.g. after a new order) instead of at the next interval."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await asyncio.to_thread(self.lock.release)

    async def _run(self) -> None:
        interval = self._settings.orders.tick_interval_s
        while True:
            try:
                if await asyncio.to_thread(self.lock.acquire):
                    await self._tick()
            except CloudError as exc:
                _LOGGER.warning("scheduler tick failed: %s", exc.message)
            except Exception:  # the loop outlives one bad tick; the next one starts afresh
                _LOGGER.exception("scheduler tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=interval)
            self._wake.clear()

    async def _tick(self) -> None:
        result = await asyncio.to_thread(self.run_tick)
        for message in result.outbound:
            if not self._publish(message.topic, message.payload):
                # The operation stays dispatched: the accept timeout takes it back and retries.
                _LOGGER.warning("the broker is away; %s not sent", message.topic)
        for event in result.events:
            self._broadcaster.publish(event)

    def run_tick(self) -> flows.TickResult:
        with transaction(self._session_factory) as session:
            return flows.tick(
                session=session,
                network_id=self._settings.network,
                settings=self._settings.orders,
                now=utcnow(),
            )
