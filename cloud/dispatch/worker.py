"""The dispatcher: every tick, the process holding the scheduler lock runs one scheduler tick.

Ticks run in a thread (database and the compiled core); a tick writes its commands to the outbox
in its own transaction, and the outbox delivery sends them once committed (``outbox_written``
wakes it); live events go to the pages. Before each tick, the quotes that expired unanswered are
marked so, each in a short transaction of its own (:func:`cloud.orders.flows.expire_quote`): their
reactions (a consortium's opportunity back to forming) happen within a tick of the expiry, and
the tick's long transaction never holds the promises' lock that quotes wait for.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

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
from cloud.orders import flows as orders_flows

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
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        """``metrics`` counts the loop's restarts after an unexpected failure; ``clock`` is
        the time the ticks run at."""
        self._settings = settings
        self._clock = clock
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
        now = self._clock()
        self.expire_quotes(now)
        with transaction(self._session_factory) as session:
            return flows.tick(
                session=session,
                network_id=self._settings.network,
                settings=self._settings.orders,
                now=now,
            )

    def expire_quotes(self, now: datetime) -> list[str]:
        """Mark the quotes past their validity expired, each in its own transaction (one that
        fails is logged and left for the next tick, the others go on); the ids expired."""
        with transaction(self._session_factory) as session:
            due = orders_flows.expired_quotes(session=session, now=now)
        expired = []
        for quote_id in due:
            try:
                with transaction(self._session_factory) as session:
                    quote = orders_flows.expire_quote(
                        session=session,
                        network_id=self._settings.network,
                        quote_id=quote_id,
                        now=now,
                    )
            except CloudError as exc:
                _LOGGER.warning("quote %s did not expire: %s", quote_id, exc.message)
                continue
            if quote is not None:
                expired.append(quote_id)
        return expired
