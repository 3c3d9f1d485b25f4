"""The maintenance background task: reminds and escalates, evaluates the rollup rules and the
preventive plans. What it decides to send is written to the coordinator's outbox, which
:mod:`cloud.messaging.delivery` delivers.

It wakes when a maintenance event is broadcast (a ticket changed, so something may be queued) and
otherwise every ``tick_seconds``; each round is a few small queries in a worker thread. The clock
is injected: tests call :meth:`MaintenanceWorker.run_once` with a clock they move by hand.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from cloud.database import transaction, utcnow
from cloud.events import EventBroadcaster
from cloud.exceptions import CloudError
from cloud.maintenance.alerts.flows import run_rules
from cloud.maintenance.config import MaintenanceSettings
from cloud.maintenance.events import EVENT_TYPE, LiveEvent, on_the_wire
from cloud.maintenance.plans.flows import run_plans
from cloud.maintenance.tickets.assigning import run_escalation, run_routes
from cloud.operations.metrics import Metrics
from cloud.operations.supervision import cancel_all, supervise

_LOGGER = logging.getLogger(__name__)
Clock = Callable[[], datetime]


class MaintenanceWorker:
    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        network: str,
        settings: MaintenanceSettings,
        broadcaster: EventBroadcaster,
        clock: Clock = utcnow,
        metrics: Metrics | None = None,
    ) -> None:
        """``metrics`` counts the worker's tasks that failed and were restarted."""
        self._session_factory = session_factory
        self._metrics = metrics
        self._network = network
        self._settings = settings
        self._policy = settings.policy()
        self._broadcaster = broadcaster
        self._clock = clock
        self._next_periodic_check: datetime | None = None
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def run_once(self) -> list[dict[str, Any]]:
        """One round (blocking): escalation, and rules and plans when due."""
        now = self._clock()
        with transaction(self._session_factory) as session:
            events = run_escalation(session, now=now, policy=self._policy)
            events += run_routes(session, network=self._network, now=now, policy=self._policy)
            if self._next_periodic_check is None or now >= self._next_periodic_check:
                events.extend(self._periodic(session, now))
                interval = timedelta(seconds=self._settings.periodic_check_seconds)
                self._next_periodic_check = now + interval
        return on_the_wire(events)

    def _periodic(self, session: Session, now: datetime) -> list[LiveEvent]:
        events = run_rules(
            session,
            network=self._network,
            rules=self._settings.rules,
            now=now,
            policy=self._policy,
        )
        plans = run_plans(session, network=self._network, now=now, policy=self._policy)
        return [*events, *plans]

    async def start(self) -> None:
        self._tasks = [
            asyncio.create_task(
                supervise("maintenance-listen", self._listen, metrics=self._metrics)
            ),
            asyncio.create_task(supervise("maintenance-loop", self._loop, metrics=self._metrics)),
        ]

    async def stop(self) -> None:
        await cancel_all(self._tasks, name="maintenance")
        self._tasks = []

    async def _listen(self) -> None:
        async with self._broadcaster.subscribe(types={EVENT_TYPE}) as queue:
            while True:
                event = await queue.get()
                if event.get("type") == EVENT_TYPE and not event.get("from_worker"):
                    self._wake.set()

    async def _loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._settings.tick_seconds)
            self._wake.clear()
            try:
                events = await asyncio.to_thread(self.run_once)
            except CloudError as exc:
                _LOGGER.warning("maintenance round failed: %s", exc.message)
                continue
            for event in events:
                self._broadcaster.publish({**event, "from_worker": True})
