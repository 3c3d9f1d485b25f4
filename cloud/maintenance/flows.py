"""Maintenance's part of the ingest (orchestration across its sub-domains): alarms and unit
states become alerts (:mod:`cloud.maintenance.alerts.flows`), technicians' replies move their
tickets (:mod:`cloud.maintenance.tickets.flows`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from cloud.maintenance.alerts.flows import handle_alarm, handle_unit_state
from cloud.maintenance.alerts.models import MaintenanceAlert
from cloud.maintenance.config import DEFAULT_POLICY, MaintenancePolicy
from cloud.maintenance.events import LiveEvent, on_the_wire
from cloud.maintenance.tickets.flows import handle_reply
from cloud.messaging.hooks import AppliedBatch, BatchHook, Event
from protocols import messages

Clock = Callable[[], datetime]


def ingest_hook(
    network: str, clock: Clock, policy: MaintenancePolicy = DEFAULT_POLICY
) -> BatchHook:
    """What the ingest calls with every batch's fresh messages, in the batch's transaction:
    alarms become alerts, unit states fire and resolve the unit-offline alert, technicians'
    replies acknowledge, start or resolve their tickets."""

    def on_batch(session: Session, batch: AppliedBatch) -> list[Event]:
        events: list[LiveEvent] = []
        alerts: dict[str, MaintenanceAlert] = {}
        now = clock()
        for decoded in batch.fresh:
            message = decoded.message
            if isinstance(message, messages.Alarm):
                events.extend(
                    handle_alarm(
                        session,
                        network=network,
                        unit_id=message.unit,
                        alarm=message.body,
                        now=now,
                        policy=policy,
                        batch=alerts,
                    )
                )
            elif isinstance(message, messages.UnitState):
                events.extend(
                    handle_unit_state(session, network=network, unit_id=message.unit, now=now)
                )
            elif isinstance(message, messages.TechnicianReply):
                events.extend(
                    handle_reply(session, technician=message.unit, reply=message, now=now)
                )
        return on_the_wire(events)

    return on_batch
