"""The coordinator's background services, started and stopped in one place.

:func:`services` starts, in order, the live-event bus, the ingest (which owns the coordinator's
MQTT connection), the outbox delivery (which publishes through it), the dispatcher and the
maintenance worker (which write to the outbox), each one's tasks supervised
(:mod:`cloud.operations.supervision`), and stops them in the reverse order, whatever failed on
the way (an :class:`~contextlib.AsyncExitStack`). ``glonet cloud serve`` (the app's lifespan) and
``glonet cloud ingest`` both run it. Here too the domains' ingest hooks are registered
(:func:`ingest_hooks`): the ingest knows no domain, and no domain knows the ingest.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from cloud import event_bus
from cloud.config import IngestIsolation, Settings
from cloud.context import AppContext
from cloud.database import utcnow
from cloud.dispatch import flows as dispatch_flows
from cloud.dispatch.worker import Dispatcher
from cloud.ingest.applier import ProcessApplier
from cloud.ingest.worker import IngestWorker
from cloud.maintenance import flows as maintenance_flows
from cloud.maintenance.events import EVENT_TYPE as MAINTENANCE_EVENT
from cloud.maintenance.webhooks import flows as maintenance_notifications
from cloud.maintenance.webhooks.service import ORIGIN as MAINTENANCE_ORIGIN
from cloud.maintenance.worker import MaintenanceWorker
from cloud.messaging.delivery import OutboxDelivery
from cloud.messaging.email import SmtpMailer
from cloud.messaging.hooks import IngestHooks

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class Wanted:
    """Which services a process runs. ``serve`` runs them all when its ingest is enabled; an
    ``ingest`` process runs the dispatcher and the maintenance worker only with
    ``--services``; ``ingest_only`` says the process is ``glonet cloud ingest`` (the bus)."""

    ingest: bool = True
    domains: bool = True
    ingest_only: bool = False


def ingest_hooks(settings: Settings) -> IngestHooks:
    """The domains' reactions to ingested batches: the dispatcher follows its job events,
    maintenance turns alarms, unit states and replies into alerts and tickets. Partials of
    module-level functions, so that an ingest child process builds the same hooks."""
    hooks = IngestHooks()
    hooks.register(functools.partial(dispatch_flows.ingest_hook, settings.network, utcnow))
    maintenance = settings.maintenance.policy()
    hooks.register(
        functools.partial(maintenance_flows.ingest_hook, settings.network, utcnow, maintenance)
    )
    return hooks


def make_ingest(context: AppContext) -> IngestWorker:
    settings = context.settings
    hooks = ingest_hooks(settings)
    applier = None
    if settings.ingest.isolation is IngestIsolation.PROCESS:
        applier = ProcessApplier(settings=settings, metrics=context.metrics, hooks=hooks)
    return IngestWorker(
        settings=settings,
        session_factory=context.session_factory,
        sink=context.sink,
        metrics=context.metrics,
        broadcaster=context.broadcaster,
        hooks=hooks.build(),
        applier=applier,
    )


@asynccontextmanager
async def services(context: AppContext, wanted: Wanted) -> AsyncIterator[AppContext]:
    """Run the background services ``wanted`` on ``context`` until the block ends."""
    settings = context.settings
    async with AsyncExitStack() as stack:
        if event_bus.wanted(settings, ingest_only=wanted.ingest_only):
            bus = event_bus.EventBus(
                settings=settings.mqtt,
                network=settings.network,
                broadcaster=context.broadcaster,
                metrics=context.metrics,
            )
            await bus.start()
            context.event_bus = bus
            stack.push_async_callback(_forget, context, "event_bus", bus.stop)
        if wanted.ingest:
            ingest = make_ingest(context)
            await ingest.start()
            context.ingest = ingest
            stack.push_async_callback(_forget, context, "ingest", ingest.stop)
            delivery = make_delivery(context, ingest)
            await delivery.start()
            ingest.outbox_written = delivery.wake
            stack.push_async_callback(delivery.stop)
            if wanted.domains:
                await _start_domains(context, stack, delivery)
        yield context


def make_delivery(context: AppContext, ingest: IngestWorker) -> OutboxDelivery:
    """The outbox's delivery, publishing with the ingest's MQTT connection; webhooks are
    retried by maintenance's policy, and maintenance hears of those given up."""
    settings = context.settings
    return OutboxDelivery(
        session_factory=context.session_factory,
        publish=ingest.deliver,
        broadcaster=context.broadcaster,
        policy=settings.maintenance.policy().delivery(),
        on_failed={MAINTENANCE_ORIGIN: maintenance_notifications.on_failed},
        metrics=context.metrics,
        webhook_timeout_s=settings.maintenance.webhook_timeout_seconds,
        wake_on=frozenset({MAINTENANCE_EVENT}),
        keep_sent=timedelta(seconds=settings.outbox.keep_sent_s),
        mailer=SmtpMailer(settings.smtp),
    )


async def _start_domains(
    context: AppContext, stack: AsyncExitStack, delivery: OutboxDelivery
) -> None:
    settings = context.settings
    if settings.orders.dispatch_enabled:
        dispatcher = Dispatcher(
            settings=settings,
            engine=context.engine,
            session_factory=context.session_factory,
            outbox_written=delivery.wake,
            broadcaster=context.broadcaster,
            metrics=context.metrics,
        )
        dispatcher.start()
        context.dispatcher = dispatcher
        stack.push_async_callback(_forget, context, "dispatcher", dispatcher.stop)
    if settings.maintenance.enabled:
        maintenance = MaintenanceWorker(
            session_factory=context.session_factory,
            network=settings.network,
            settings=settings.maintenance,
            broadcaster=context.broadcaster,
            metrics=context.metrics,
        )
        await maintenance.start()
        stack.push_async_callback(maintenance.stop)
    _LOGGER.info(
        "running the dispatcher (%s) and the maintenance worker (%s) beside the ingest",
        "on" if settings.orders.dispatch_enabled else "off",
        "on" if settings.maintenance.enabled else "off",
    )


async def _forget(context: AppContext, name: str, stop: Callable[[], Awaitable[None]]) -> None:
    """Stop a service and take it off the context (nothing uses a stopped service)."""
    setattr(context, name, None)
    await stop()
