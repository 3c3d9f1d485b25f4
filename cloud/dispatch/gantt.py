"""The plan as Gantt data: rows per plant and machine, bars per operation, and the times a machine
cannot work (maintenance windows, its plant's closed calendar time).

Scoped here, on the server: the coordinator sees the whole network, a plant its own machines, a
customer only its own orders' operations (on the machines that run them, without the plants'
windows and calendars). Machine time held by open quotes shows as bars of status ``held``,
named by the quote (a customer sees its own quotes' only). The plan page draws the data in the
browser (``plan.html``).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.dispatch import planning, service
from cloud.dispatch.models import Gantt, GanttBar, GanttRow, GanttSpan
from cloud.maintenance.windows import service as window_service
from cloud.orders.models import CapacityHold, OperationStatus, Order, OrderOperation, Quote
from cloud.registry import calendars as registry_calendars
from cloud.registry import service as registry_service
from cloud.registry.models import Machine, PlantCalendarSet, Unit

MAX_PAST = timedelta(minutes=30)  # how far back the chart begins
KEEP_ENDED = timedelta(hours=24)  # ended work the chart still carries (zoomed out, panned back)
HELD = "held"  # a bar's status for machine time an open quote holds


def build(
    *,
    session: Session,
    actor: Actor,
    network_id: str,
    now: datetime,
    clock: planning.PlantClock | None = None,
) -> Gantt:
    """The plan as ``actor`` may see it; ``clock`` turns plant calendars into wall-clock time
    (the demo's plants run faster than the wall clock; real plants need none)."""
    require_role(actor, Role.COORDINATOR, Role.PLANT, Role.CUSTOMER)
    units = select(Unit.id).where(Unit.network_id == network_id)
    if actor.role is Role.PLANT:
        units = units.where(Unit.id == actor.unit_id)
    machines = [
        machine
        for machine in session.scalars(
            select(Machine).where(Machine.unit_id.in_(units)).order_by(Machine.unit_id, Machine.id)
        )
        if machine.asset_kind == "machine"
    ]
    customer = actor.role is Role.CUSTOMER
    bars = _bars(session, now, actor.customer_id if customer else None)
    for key, held in _held(session, now, actor.customer_id if customer else None).items():
        bars[key].extend(held)
    if customer:
        machines = [m for m in machines if service.machine_key(m.unit_id, m.machine) in bars]
    shown = [
        bar for m in machines for bar in bars.get(service.machine_key(m.unit_id, m.machine), [])
    ]
    ends = [bar.end for bar in shown] or [now + timedelta(minutes=5)]
    starts = [bar.setup_start or bar.start for bar in shown] or [now]
    start = max(min(*starts, now), now - MAX_PAST)
    end = max(*ends, now + timedelta(seconds=1))
    windows: dict[str, list[GanttSpan]] = {}
    calendars: dict[str, PlantCalendarSet] = {}
    down: dict[str, str] = {}
    if not customer:
        windows = _windows(session, start, end)
        calendars = registry_service.network_calendars(session=session, network_id=network_id)
        down = service.down_machines(session=session, network_id=network_id, now=now)
    clock = clock or planning.PlantClock()
    closed = {unit: _closed(cal, start, end, clock) for unit, cal in calendars.items()}
    rows = []
    for machine in machines:
        key = service.machine_key(machine.unit_id, machine.machine)
        calendar = calendars.get(machine.unit_id)
        rows.append(
            GanttRow(
                unit_id=machine.unit_id,
                machine=machine.machine,
                down=key in down,
                bars=bars.get(key, []),
                windows=windows.get(key, []),
                closed=closed[machine.unit_id]
                if calendar is not None and machine.machine not in calendar.lights_out
                else [],
            )
        )
    return Gantt(start=start, end=end, now=now, rows=rows)


def _bars(session: Session, now: datetime, customer_id: str | None) -> dict[str, list[GanttBar]]:
    """Planned operations by machine key; a customer's own orders' only when ``customer_id``."""
    found: dict[str, list[GanttBar]] = defaultdict(list)
    query = (
        select(OrderOperation, Order.id)
        .join(Order)
        .where(OrderOperation.unit_id.is_not(None), OrderOperation.planned_start.is_not(None))
    )
    if customer_id is not None:
        query = query.where(Order.customer_id == customer_id)
    # Work that ended long before the chart begins stays out (it would only grow the answer).
    query = query.where(
        or_(OrderOperation.ended_at.is_(None), OrderOperation.ended_at >= now - KEEP_ENDED)
    )
    for op, order_id in session.execute(query):
        if op.planned_start is None or op.unit_id is None or op.machine is None:
            continue
        start = op.started_at or op.planned_start
        end = op.ended_at or max(op.planned_end or start, start)
        setup = op.planned_setup_start if op.started_at is None else None
        if op.status == OperationStatus.RUNNING and end < now:
            end = now
        found[service.machine_key(op.unit_id, op.machine)].append(
            GanttBar(
                order_id=order_id,
                step=op.step,
                name=op.name,
                status=op.status,
                start=start,
                end=end,
                progress=op.progress,
                setup_start=setup if setup is not None and setup < start else None,
                operator=op.planned_operator,
            )
        )
    return found


def _held(session: Session, now: datetime, customer_id: str | None) -> dict[str, list[GanttBar]]:
    """Machine time open quotes hold, as bars of status ``held`` named by their quote; a
    customer's own quotes' only when ``customer_id``."""
    found: dict[str, list[GanttBar]] = defaultdict(list)
    query = (
        select(CapacityHold)
        .join(Quote, Quote.id == CapacityHold.quote_id)
        .where(CapacityHold.valid_until > now, CapacityHold.ends_at > now - MAX_PAST)
    )
    if customer_id is not None:
        query = query.where(Quote.customer_id == customer_id)
    for hold in session.scalars(query):
        found[service.machine_key(hold.unit_id, hold.machine)].append(
            GanttBar(
                order_id=hold.quote_id,
                step=hold.step,
                name=f"held for quote {hold.quote_id}",
                status=HELD,
                start=hold.work_starts_at,
                end=hold.ends_at,
                progress=0.0,
                setup_start=hold.starts_at if hold.starts_at < hold.work_starts_at else None,
            )
        )
    return found


def _windows(session: Session, start: datetime, end: datetime) -> dict[str, list[GanttSpan]]:
    found: dict[str, list[GanttSpan]] = defaultdict(list)
    for window in window_service.maintenance_windows(session=session, since=start, until=end):
        found[service.machine_key(window.unit_id, window.asset)].append(
            GanttSpan(start=window.starts_at, end=window.ends_at, reason=window.reason)
        )
    return found


def _closed(
    calendar: PlantCalendarSet, start: datetime, end: datetime, clock: planning.PlantClock
) -> list[GanttSpan]:
    """The plant's closed time in ``[start, end)`` on the wall clock."""
    spans = []
    cursor = start
    for a, b in registry_calendars.open_periods(calendar, clock.plant(start), clock.plant(end)):
        opens, closes = clock.wall(a), clock.wall(b)
        if opens > cursor:
            spans.append(GanttSpan(start=cursor, end=opens, reason="closed"))
        cursor = max(cursor, closes)
    if cursor < end:
        spans.append(GanttSpan(start=cursor, end=end, reason="closed"))
    return spans
