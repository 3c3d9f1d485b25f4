"""The dispatcher: every tick, the process holding the scheduler lock runs one scheduler tick.

Ticks run in a thread (database and the compiled core); a tick writes its commands to the outbox
in its own transaction, and the outbox delivery sends them once committed (``outbox_written``
wakes it); live events go to the pages.
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
from cloud.operations.metrics import Metrics
from cloud.operations.supervision import cancel_all, supervise

_LOGGER = logging.getLogger(__name__)


class Dispatcher:
    def __init__(
        self,
        *,
        settings: Settings,
        engine: Engine,
        session_factory: sessionmaker[Session],
        outbox_written: Callable[[], None] = lambda: None,
        broadcaster: EventBroadcaster,
        metrics: Metrics | None = None,
    ) -> None:
        """``metrics`` counts the loop's restarts after an unexpected failure."""
        self._settings = settings
        self._metrics = metrics
        self._session_factory = session_factory
        self._outbox_written = outbox_written
        self._broadcaster = broadcaster
        self.lock = SchedulerLock(engine, settings.network)
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()

    def start(self) -> None:
        self._task = asyncio.create_task(
            supervise("dispatcher", self._run, metrics=self._metrics), name="dispatcher"
        )

    def wake(self) -> None:
        """Run the next tick now (e.g. after a new order) instead of at the next interval."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_all([self._task], name="dispatcher")
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
        if result.outbound:
            self._outbox_written()
        for event in result.events:
            self._broadcaster.publish(event.wire())

    def run_tick(self) -> flows.TickResult:
        with transaction(self._session_factory) as session:
            return flows.tick(
                session=session,
                network_id=self._settings.network,
                settings=self._settings.orders,
                now=utcnow(),
            )
