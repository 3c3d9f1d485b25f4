"""Dispatch bookkeeping: re-plan requests, job events from the plants, windows, machine health.

:func:`record_job_events` is the ingest's hook: it runs in the ingest's transaction for the
applied job events of a batch and moves the operations they belong to through their states.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.database import insert_for
from cloud.dispatch.models import SchedulerState
from cloud.maintenance.windows import service as window_service
from cloud.maintenance.windows.models import MaintenanceWindow
from cloud.network.models import MachineState, UnitPresence
from cloud.orders.models import FROZEN_STATUSES, OperationStatus, OrderOperation
from cloud.registry.models import Machine, Unit
from protocols.enums import JobEventKind, MachineryItemState, MachineryOperationMode
from protocols.enums import UnitStatus as Availability
from protocols.messages import JobEvent

_LOGGER = logging.getLogger(__name__)
IN_WINDOW = "maintenance window"
FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)
DOWN_STATES = frozenset({MachineryItemState.OUT_OF_SERVICE, MachineryItemState.NOT_AVAILABLE})


def get_state(*, session: Session, network_id: str) -> SchedulerState:
    state = session.get(SchedulerState, network_id)
    if state is None:
        state = SchedulerState(network_id=network_id, replan_requested=True, reasons=["start"])
        session.add(state)
        session.flush()
    return state


def request_replan(*, session: Session, network_id: str, reason: str) -> None:
    state = get_state(session=session, network_id=network_id)
    state.replan_requested = True
    state.reasons = [*state.reasons[-9:], reason]
    state.requests = SchedulerState.requests + 1  # in SQL: no concurrent request is lost


def lock_promises(*, session: Session, network_id: str) -> None:
    """Take the network's scheduler-state row for the rest of the transaction, so that whoever
    promises machine time (a quote and its holds) or gives it back (confirming, refusing) does
    it alone: a second quote waits here, then plans on top of the first one's holds.

    One upsert that does not change the row: on PostgreSQL it locks the row (as SELECT … FOR
    UPDATE would, and creates it when missing without a race); on SQLite it is the
    transaction's first write, which takes the database's write lock before the plan is read
    (reads before it ran in autocommit and pinned no snapshot). The dispatcher's tick takes
    the same row only when it asks for or finishes a re-plan, as before: a quote never holds it
    while waiting for a row the tick has, so the two cannot deadlock.
    """
    table = SchedulerState.__table__
    statement = (
        insert_for(session)(table)
        .values(
            network_id=network_id,
            replan_requested=True,
            reasons=["start"],
            requests=0,
            plans=0,
            down_machines=[],
            windows_seen=[],
        )
        .on_conflict_do_update(
            index_elements=[table.c.network_id], set_={"requests": table.c.requests}
        )
    )
    session.execute(statement)


def machine_key(unit_id: str, machine: str) -> str:
    return f"{unit_id}/{machine}"


def reset_operation(operation: OrderOperation, *, why: str, now: datetime, exclude: bool) -> None:
    """Take an operation back from its machine so the next plan puts it somewhere again; with
    ``exclude``, the machine refused it: it is excluded, and the history entry says ``refused``
    (see :func:`refused_until`)."""
    entry = _history(operation, why, now, **({"refused": True} if exclude else {}))
    if exclude and operation.unit_id and operation.machine:
        key = machine_key(operation.unit_id, operation.machine)
        operation.excluded = sorted({*operation.excluded, key})
    operation.history = [*operation.history, entry]
    operation.status = OperationStatus.PLANNED
    operation.job_order_id = None
    operation.started_at = None
    operation.dispatched_at = None
    operation.progress = 0.0


def refused_until(operation: OrderOperation, *, first: float, longest: float) -> datetime | None:
    """When an operation planned on a machine that refused it may go back there: ``first``
    seconds after the last refusal, doubled for each refusal in a row, at most ``longest``
    (None: its machine never refused it). Without this, an operation that only one machine can
    do and that machine refuses would bounce between plan and machine every tick."""
    if not (operation.unit_id and operation.machine):
        return None
    if machine_key(operation.unit_id, operation.machine) not in operation.excluded:
        return None
    in_a_row = 0
    last: str | None = None
    for entry in reversed(operation.history):
        if not entry.get("refused"):
            break
        in_a_row += 1
        last = last or entry["at"]
    if last is None:
        return None
    wait = min(first * 2 ** (in_a_row - 1), longest)
    return datetime.fromisoformat(last) + timedelta(seconds=wait)


def _history(operation: OrderOperation, what: str, now: datetime, **extra: Any) -> dict[str, Any]:
    return {
        "at": now.isoformat(),
        "what": what,
        "job_order_id": operation.job_order_id,
        "unit_id": operation.unit_id,
        "machine": operation.machine,
        **extra,
    }


def record_job_event(
    *, session: Session, network_id: str, unit_id: str, event: JobEvent, now: datetime
) -> None:
    """Follow one job event (see :func:`record_job_events`)."""
    record_job_events(session=session, network_id=network_id, events=[(unit_id, event)], now=now)


def record_job_events(
    *,
    session: Session,
    network_id: str,
    events: Sequence[tuple[str, JobEvent]],
    now: datetime,
) -> None:
    """Follow ``(unit_id, event)`` job events in order; events of job orders that are not
    dispatched operations are ignored. One query finds the operations of the whole batch."""
    job_order_ids = {event.job_order_id for _, event in events}
    query = select(OrderOperation).where(OrderOperation.job_order_id.in_(job_order_ids))
    operations = {(op.unit_id, op.job_order_id): op for op in session.scalars(query)}
    for unit_id, event in events:
        operation = operations.get((unit_id, event.job_order_id))
        if operation is not None and operation.machine == event.machine:
            _follow(session, network_id, unit_id, operation, event, now)


def _follow(
    session: Session,
    network_id: str,
    unit_id: str,
    operation: OrderOperation,
    event: JobEvent,
    now: datetime,
) -> None:
    kind = event.event
    if kind in (JobEventKind.REJECTED, JobEventKind.ABORTED):
        reason = f"{kind.value} by {unit_id}/{event.machine}: {event.reason or 'no reason given'}"
        reset_operation(operation, why=reason, now=now, exclude=kind is JobEventKind.REJECTED)
        request_replan(session=session, network_id=network_id, reason=reason)
        _LOGGER.info("operation %s %s", event.job_order_id, reason)
    elif kind is JobEventKind.ACCEPTED and operation.status is OperationStatus.DISPATCHED:
        operation.status = OperationStatus.ACCEPTED
    elif kind in (JobEventKind.STARTED, JobEventKind.PROGRESS):
        _running(operation, event, now)
    elif kind is JobEventKind.ENDED:
        _ended(operation, event, now)


def _running(operation: OrderOperation, event: JobEvent, now: datetime) -> None:
    if operation.status is OperationStatus.ENDED:
        return
    if operation.status is not OperationStatus.RUNNING:
        operation.status = OperationStatus.RUNNING
        operation.started_at = now
    if event.progress is not None:
        operation.progress = event.progress


def _ended(operation: OrderOperation, event: JobEvent, now: datetime) -> None:
    operation.status = OperationStatus.ENDED
    operation.ended_at = now
    operation.started_at = operation.started_at or now
    operation.progress = 1.0
    operation.history = [
        *operation.history,
        _history(
            operation,
            "ended",
            now,
            actual_start=event.actual_start.isoformat() if event.actual_start else None,
            actual_end=event.actual_end.isoformat() if event.actual_end else None,
            produced_quantity=event.produced_quantity,
        ),
    ]
    _LOGGER.info(
        "operation %s ended on %s/%s", operation.job_order_id, operation.unit_id, operation.machine
    )


def down_machines(*, session: Session, network_id: str, now: datetime) -> dict[str, str]:
    """Machines that cannot work now, with why: unit offline, out of service, in maintenance
    (mode or window)."""
    units = select(Unit.id).where(Unit.network_id == network_id)
    offline = set(
        session.scalars(
            select(UnitPresence.unit_id).where(
                UnitPresence.unit_id.in_(units), UnitPresence.status == Availability.OFFLINE
            )
        )
    )
    down: dict[str, str] = {}
    for machine in session.scalars(select(Machine).where(Machine.unit_id.in_(units))):
        if machine.unit_id in offline:
            down[machine_key(machine.unit_id, machine.machine)] = "unit offline"
    for row in session.scalars(select(MachineState).where(MachineState.unit_id.in_(units))):
        reason = _down_reason(row)
        if reason:
            down.setdefault(machine_key(row.unit_id, row.machine), reason)
    for window in window_service.maintenance_windows(session=session, since=now, until=now):
        down.setdefault(machine_key(window.unit_id, window.asset), IN_WINDOW)
    return down


def _down_reason(row: MachineState) -> str | None:
    if row.state in DOWN_STATES:
        return f"state {row.state}"
    if row.mode == MachineryOperationMode.MAINTENANCE:
        return "in maintenance"
    if not row.available and row.state != MachineryItemState.EXECUTING:
        return "not available"
    return None


def frozen_on(*, session: Session, keys: Sequence[str]) -> list[OrderOperation]:
    """Dispatched, accepted or running operations on the machines ``keys``."""
    query = select(OrderOperation).where(OrderOperation.status.in_(FROZEN_STATUSES))
    return [
        op
        for op in session.scalars(query)
        if op.unit_id and op.machine and machine_key(op.unit_id, op.machine) in keys
    ]


# Windows and plant views --------------------------------------------------------------------


def current_windows(*, session: Session, now: datetime) -> list[MaintenanceWindow]:
    """Maintenance windows not over yet: machine unavailability for the plan."""
    return window_service.maintenance_windows(session=session, since=now, until=FAR_FUTURE)


def window_marks(windows: Sequence[MaintenanceWindow]) -> list[str]:
    """What the last plan saw of the windows: a new, changed or ended one asks for a re-plan."""
    return sorted(f"{w.id}:{w.starts_at.isoformat()}:{w.ends_at.isoformat()}" for w in windows)


def plant_operations(*, session: Session, actor: Actor) -> list[OrderOperation]:
    """Operations dispatched to the caller's unit (any unit for coordinators)."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    query = (
        select(OrderOperation)
        .where(OrderOperation.job_order_id.is_not(None))
        .order_by(OrderOperation.dispatched_at)
    )
    if actor.role is Role.PLANT:
        query = query.where(OrderOperation.unit_id == actor.unit_id)
    return list(session.scalars(query))
