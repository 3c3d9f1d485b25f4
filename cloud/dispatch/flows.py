"""One scheduler tick: watch reality, re-plan when it deviates, dispatch the next operations.

A tick runs in one transaction (the caller holds the scheduler lock):

1. take back operations the plants did not accept in time, and those on machines that went
   down (cancelling them there);
2. ask for a re-plan when the down machines or the maintenance windows changed, a running
   operation is late, or work waits for a machine still down past its estimated repair;
3. re-plan if anything asked for it (new order, rejection, window, breakdown…), freezing what
   is dispatched or running;
4. send each machine its next ready operations within the horizon (a rolling horizon, not the
   whole plan) as ``DispatchCommand`` messages;
5. complete orders whose operations all ended.

The commands are written to the outbox in the tick's transaction (and returned, for the record):
:mod:`cloud.messaging.delivery` publishes them once committed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.config import OrdersSettings
from cloud.dispatch import planning, service
from cloud.dispatch.events import Dispatched, OrderMoved, Replanned, TickEvent
from cloud.dispatch.models import SchedulerState
from cloud.messaging import outbox
from cloud.messaging.hooks import AppliedBatch, BatchHook
from cloud.messaging.mqtt import Outbound
from cloud.notifications.models import NotificationEvent
from cloud.orders import notices as order_notices
from cloud.orders import service as orders_service
from cloud.orders.models import (
    FROZEN_STATUSES,
    OPEN_STATUSES,
    UNFINISHED,
    CapacityHold,
    OperationStatus,
    Order,
    OrderOperation,
    OrderStatus,
    Quote,
)
from cloud.registry import calendars as registry_calendars
from cloud.registry import service as registry_service
from cloud.registry.models import SPEED_FACTOR, Machine, PlantCalendarSet
from cloud.suppliers import service as supplier_service
from protocols import messages

_LOGGER = logging.getLogger(__name__)
ORIGIN = "dispatch"
"""The outbox's name for the dispatcher's commands."""
SCHEDULER = Actor(principal_id=0, name="scheduler", role=Role.COORDINATOR)


@dataclass
class TickResult:
    outbound: list[Outbound] = field(default_factory=list)
    events: list[TickEvent] = field(default_factory=list)
    replanned: bool = False


# Gathering the problem ----------------------------------------------------------------------


def network_model(
    *,
    session: Session,
    network_id: str,
    settings: OrdersSettings,
    now: datetime,
    transport: bool = True,
) -> planning.Network:
    """The network's machines (with who is down until when), windows and transport times
    (``transport=False``: none, for a question about each member alone)."""
    units = {
        u.id: u for u in registry_service.network_units(session=session, network_id=network_id)
    }
    down = service.down_machines(session=session, network_id=network_id, now=now)
    down_until = now + timedelta(seconds=settings.down_estimate_s / settings.time_scale)
    calendars = registry_service.network_calendars(session=session, network_id=network_id)
    periods = {
        unit_id: _wall_periods(calendar, settings, now) for unit_id, calendar in calendars.items()
    }
    machines = []
    families = _last_families(session)
    rows = session.scalars(
        select(Machine).where(Machine.unit_id.in_(units)).order_by(Machine.unit_id, Machine.id)
    )
    for row in rows:
        if row.asset_kind != "machine" or not row.capabilities:
            continue
        if units[row.unit_id].sharing_policy.get("share_capacity", True) is False:
            continue
        key = service.machine_key(row.unit_id, row.machine)
        machines.append(
            planning.PlanMachine(
                unit_id=row.unit_id,
                machine=row.machine,
                capabilities=row.capabilities,
                certifications=frozenset(units[row.unit_id].certifications),
                # A window's end is known (it is in ``windows``); a breakdown's is estimated.
                down_until=down_until
                if down.get(key, service.IN_WINDOW) != service.IN_WINDOW
                else None,
                calendar=None
                if row.unit_id not in calendars or row.machine in calendars[row.unit_id].lights_out
                else periods[row.unit_id],
                speed_factor=speed_factor(row),
                setup_family=families.get(key),
            )
        )
    windows = [
        planning.Window(service.machine_key(w.unit_id, w.asset), w.starts_at, w.ends_at)
        for w in service.current_windows(session=session, now=now)
    ]
    windows += held_windows(session=session, now=now)
    hours = (
        registry_service.transport_hours(session=session, units=list(units.values()))
        if transport
        else {}
    )
    return planning.Network(
        operators=_operators(session, network_id, calendars, settings, now),
        machines=machines,
        transport_hours=hours,
        windows=windows,
        time_scale=settings.time_scale,
        overhead_s=settings.dispatch_overhead_s,
        max_share={
            unit.id: float(unit.sharing_policy["max_order_share"])
            for unit in units.values()
            if unit.sharing_policy.get("max_order_share") is not None
        },
    )


def held_windows(*, session: Session, now: datetime) -> list[planning.Window]:
    """The machine time open quotes hold (see :class:`CapacityHold`), as times the machines are
    taken: an expired quote's holds no longer count, whether or not they were cleared yet."""
    query = select(CapacityHold).where(CapacityHold.valid_until > now, CapacityHold.ends_at > now)
    return [
        planning.Window(service.machine_key(h.unit_id, h.machine), h.starts_at, h.ends_at)
        for h in session.scalars(query)
    ]


def speed_factor(row: Machine) -> float:
    """The machine's run time against nominal durations, from its static data (the API checks
    it is a number in (0, 100])."""
    return float(row.static_data.get(SPEED_FACTOR, 1.0))


def machine_speeds(session: Session) -> dict[str, float]:
    """Speed factors of the machines that have one, by machine key."""
    return {
        service.machine_key(row.unit_id, row.machine): speed_factor(row)
        for row in session.scalars(select(Machine))
        if SPEED_FACTOR in row.static_data
    }


def plant_clock(settings: OrdersSettings) -> planning.PlantClock:
    return planning.PlantClock(
        settings.time_scale, settings.plant_clock_origin or planning.CLOCK_ORIGIN
    )


def _wall_periods(
    calendar: PlantCalendarSet, settings: OrdersSettings, now: datetime
) -> list[tuple[datetime, datetime]]:
    """The plant's open periods from now over the calendar horizon, on the wall clock."""
    clock = plant_clock(settings)
    start = clock.plant(now)
    end = start + timedelta(seconds=settings.calendar_horizon_s)
    return [
        (clock.wall(a), clock.wall(b))
        for a, b in registry_calendars.open_periods(calendar, start, end)
    ]


def _operators(
    session: Session,
    network_id: str,
    calendars: dict[str, PlantCalendarSet],
    settings: OrdersSettings,
    now: datetime,
) -> list[planning.PlanOperator]:
    """The network's operators with their rosters on the wall clock: their shifts in their
    plant calendar's zone, with its holidays (no shifts: whenever the plant works)."""
    found = []
    for operator in registry_service.network_operators(session=session, network_id=network_id):
        roster = None
        if operator.shifts:
            plant = calendars.get(operator.unit_id)
            shifts = PlantCalendarSet(
                timezone=plant.timezone if plant else "UTC",
                shifts=operator.shifts,
                holidays=plant.holidays if plant else [],
            )
            roster = _wall_periods(shifts, settings, now)
        found.append(
            planning.PlanOperator(
                operator.unit_id, operator.operator_id, frozenset(operator.skills), roster
            )
        )
    return found


def open_jobs(
    *, session: Session, settings: OrdersSettings, now: datetime
) -> tuple[list[planning.PlanJob], dict[int, OrderOperation]]:
    """Every active order's unfinished operations, the dispatched ones frozen. Three queries
    whatever the number of orders (operations, and the quoted steps, of all of them at once):
    every quote and every re-plan reads the whole open plan."""
    unfinished = Order.status.in_(UNFINISHED)
    orders = list(session.scalars(select(Order).where(unfinished).order_by(Order.created_at)))
    by_order: dict[str, list[OrderOperation]] = defaultdict(list)
    query = (
        select(OrderOperation)
        .join(Order, Order.id == OrderOperation.order_id)
        .where(unfinished, OrderOperation.status.in_(OPEN_STATUSES))
        .order_by(OrderOperation.order_id, OrderOperation.position)
    )
    for op in session.scalars(query):
        by_order[op.order_id].append(op)
    quoted = session.execute(
        select(Quote.id, Quote.work).join(Order, Order.quote_id == Quote.id).where(unfinished)
    )
    works = {quote_id: work for quote_id, work in quoted}
    jobs: list[planning.PlanJob] = []
    rows: dict[int, OrderOperation] = {}
    rank = _frozen_ranks(session)
    speeds = machine_speeds(session)
    releases = supplier_service.material_releases(session=session, now=now)
    for order in orders:
        operations = []
        steps = _steps_of(works.get(order.quote_id))
        for op in by_order.get(order.id, []):
            rows[op.id] = op
            key = service.machine_key(op.unit_id or "", op.machine or "")
            work = steps.get(op.step, {})
            own = work.get("machine_durations_s", {}).get(key)
            run_s = own if own is not None else op.duration_s * speeds.get(key, 1.0)
            release = releases.get((order.id, op.step))
            operations.append(
                _plan_operation(op, settings, now, rank.get(op.id, 0), run_s, work, release)
            )
        if operations:
            due = order.promised_at - _delivery_time(works.get(order.quote_id), settings)
            jobs.append(planning.PlanJob(order.id, operations, due=due))
    return jobs, rows


def _delivery_time(work: dict[str, Any] | None, settings: OrdersSettings) -> timedelta:
    """How long before its promised date an order's work must be done for it to reach the
    customer's site: the longest road leg its quote priced (wall clock), none without a site."""
    legs = (work or {}).get("delivery") or []
    hours = max(
        (float(leg.get("hours") or 0.0) for leg in legs if isinstance(leg, dict)), default=0
    )
    return timedelta(seconds=max(0.0, hours) * 3600 / settings.time_scale)


def _last_families(session: Session) -> dict[str, str]:
    """Per machine key, the setup family of the operation it started last, if it has one: the
    machine is set up for it, and changes over from it (as a plant does)."""
    latest = (
        select(
            OrderOperation.unit_id,
            OrderOperation.machine,
            func.max(OrderOperation.started_at).label("at"),
        )
        .where(OrderOperation.started_at.is_not(None))
        .group_by(OrderOperation.unit_id, OrderOperation.machine)
        .subquery()
    )
    last = session.scalars(
        select(OrderOperation).join(
            latest,
            (OrderOperation.unit_id == latest.c.unit_id)
            & (OrderOperation.machine == latest.c.machine)
            & (OrderOperation.started_at == latest.c.at),
        )
    )
    steps: dict[str, dict[str, dict[str, Any]]] = {}
    found: dict[str, str] = {}
    for op in last:
        if op.order_id not in steps:
            order = session.get(Order, op.order_id)
            steps[op.order_id] = {} if order is None else _quoted_steps(session, order)
        family = steps[op.order_id].get(op.step, {}).get("setup_family")
        if isinstance(family, str):
            found[service.machine_key(op.unit_id or "", op.machine or "")] = family
    return found


def _quoted_steps(session: Session, order: Order) -> dict[str, dict[str, Any]]:
    """The planning fields (own machine times, setup) of the order's steps, as quoted."""
    quote = session.get(Quote, order.quote_id)
    return _steps_of(None if quote is None else quote.work)


def _steps_of(work: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """The planning fields of a quote's ``work`` by step."""
    if work is None:
        return {}
    return {
        str(step["step"]): planning.machine_work(step)
        for step in work.get("operations", [])
        if isinstance(step, dict) and "step" in step
    }


def _frozen_ranks(session: Session) -> dict[int, int]:
    query = select(OrderOperation).where(OrderOperation.status.in_(FROZEN_STATUSES))
    ranked = sorted(
        session.scalars(query),
        key=lambda op: (op.status is not OperationStatus.RUNNING, op.dispatched_at or datetime.min),
    )
    return {op.id: index for index, op in enumerate(ranked)}


def _plan_operation(
    op: OrderOperation,
    settings: OrdersSettings,
    now: datetime,
    rank: int,
    run_s: float,
    work: dict[str, Any],
    release: datetime | None,
) -> planning.PlanOperation:
    """``run_s``: plant seconds the operation takes on the machine it is on, if it is frozen
    there (its own time, or nominal x speed factor); ``work``: its quoted step's planning
    fields (:func:`planning.machine_work`); ``release``: when its material is expected."""
    frozen = op.status in FROZEN_STATUSES
    wall = run_s / settings.time_scale
    return planning.PlanOperation(
        key=op.id,
        step=op.step,
        process=op.process,
        duration_s=op.duration_s,
        predecessors=op.predecessors,
        requirements=op.requirements,
        certifications=op.certifications,
        excluded=op.excluded,
        frozen_on=service.machine_key(op.unit_id, op.machine)
        if frozen and op.unit_id and op.machine
        else None,
        remaining_s=_remaining(op, wall, now),
        setup_left_s=_setup_left(op, now) if frozen else 0.0,
        frozen_rank=rank,
        resumable=op.process not in settings.non_resumable_processes,
        frozen_operator=op.planned_operator if frozen else None,
        release=release,
        **work,
    )


def _planned_setup(op: OrderOperation) -> timedelta:
    """The change-over the plan put before ``op``'s work (a re-plan keeps it on a dispatched
    operation and leaves a running one's plan as it was when it started)."""
    if op.planned_setup_start is None or op.planned_start is None:
        return timedelta(0)
    return max(timedelta(0), op.planned_start - op.planned_setup_start)


def _setup_left(op: OrderOperation, now: datetime) -> float:
    """Wall seconds of a frozen operation's change-over still ahead: all of it until it runs
    (a plant runs the setup first, as part of the job), then what is left of it."""
    setup = _planned_setup(op)
    if op.status != OperationStatus.RUNNING or op.started_at is None:
        return setup.total_seconds()
    return max(0.0, (op.started_at + setup - now).total_seconds())


def _remaining(op: OrderOperation, wall: float, now: datetime) -> float:
    """Wall seconds of work a frozen operation still needs: all of it unless it runs (past
    its setup)."""
    if op.status != OperationStatus.RUNNING or op.started_at is None:
        return wall
    work_from = op.started_at + _planned_setup(op)
    if work_from >= now:
        return wall
    expected = (work_from + timedelta(seconds=wall) - now).total_seconds()
    if expected > 0:
        return expected
    return wall * max(0.05, 1.0 - op.progress)


# Re-planning --------------------------------------------------------------------------------


def replan(*, session: Session, network_id: str, settings: OrdersSettings, now: datetime) -> bool:
    """Plan all open operations again and write machine and times into the waiting ones.

    False when the plan is stale already: a re-plan was asked for while it ran (an order
    confirmed, a quote holding machine time it did not see); the request stays for the next
    tick."""
    service.get_state(session=session, network_id=network_id)
    # Read in SQL (after a flush): a request made earlier in this tick is in the session as
    # "requests + 1", not yet a number.
    asked = session.scalar(
        select(SchedulerState.requests).where(SchedulerState.network_id == network_id)
    )
    jobs, rows = open_jobs(session=session, settings=settings, now=now)
    network = network_model(session=session, network_id=network_id, settings=settings, now=now)
    jobs = [_without_dead_exclusions(job, network) for job in jobs]
    result = planning.plan(jobs, network, now=now, time_limit=settings.plan_time_limit_s)
    for key, assignment in result.assignments.items():
        op = rows[key]
        if op.status in (OperationStatus.WAITING, OperationStatus.PLANNED):
            op.status = OperationStatus.PLANNED
            op.unit_id, op.machine = assignment.unit_id, assignment.machine
        op.planned_end = assignment.end
        op.planned_operator = assignment.operator
        if op.status != OperationStatus.RUNNING:
            # A running operation's planned start and setup stay as they were when it
            # started: they say how long its change-over takes (see _setup_left).
            op.planned_start = assignment.start
            op.planned_setup_start = assignment.setup_start
    for order_id, reason in result.unplanned.items():
        _LOGGER.warning("order %s cannot be planned: %s", order_id, reason)
    _update_orders(session, result, now)
    state = service.get_state(session=session, network_id=network_id)
    state.planned_at = now
    state.plans += 1
    state.makespan_s = result.makespan_s
    _LOGGER.info(
        "planned %d operations of %d orders (makespan %.0f s): %s",
        len(result.assignments),
        len(jobs),
        result.makespan_s,
        "; ".join(state.reasons) or "periodic",
    )
    session.flush()
    # Done with what was asked, unless more was asked while this plan ran (an order confirmed
    # meanwhile, which the plan did not see): then the request stays for the next tick.
    done = session.execute(
        update(SchedulerState)
        .where(SchedulerState.network_id == network_id, SchedulerState.requests == asked)
        .values(replan_requested=False, reasons=[])
    )
    session.expire(state)
    return bool(done.rowcount)  # type: ignore[attr-defined]


def _without_dead_exclusions(job: planning.PlanJob, network: planning.Network) -> planning.PlanJob:
    """Forget machines an operation was taken from when no other machine could take it."""
    operations = []
    for op in job.operations:
        if op.excluded and not any(planning.can_do(m, op) for m in network.machines):
            op = replace(op, excluded=())
        operations.append(op)
    return planning.PlanJob(job.order_id, operations, job.due)


def _update_orders(session: Session, result: planning.Plan, now: datetime) -> None:
    for order_id, end in result.job_ends.items():
        order = session.get(Order, order_id)
        if order is None:
            continue
        order.planned_end = end
        if order.status is OrderStatus.CONFIRMED:
            order.status = OrderStatus.PLANNED
            order_notices.tell_customer(session, order, NotificationEvent.ORDER_PLANNED, now)


@dataclass(frozen=True)
class WhatIf:
    """Where and when a candidate job would run if added to the current plan now."""

    end: datetime
    assignments: dict[int, planning.Assignment]  # the candidate's operations, by key
    machines: dict[str, planning.PlanMachine]  # the network's, by machine key


def what_if(
    *,
    session: Session,
    network_id: str,
    settings: OrdersSettings,
    job: planning.PlanJob,
    now: datetime,
) -> WhatIf:
    """``job`` planned on top of every open operation and every held machine time (nothing is
    written)."""
    jobs, _rows = open_jobs(session=session, settings=settings, now=now)
    network = network_model(session=session, network_id=network_id, settings=settings, now=now)
    result = planning.plan([*jobs, job], network, now=now, time_limit=settings.plan_time_limit_s)
    if job.order_id in result.unplanned:
        raise planning.PlanningError(result.unplanned[job.order_id])
    keys = {op.key for op in job.operations}
    return WhatIf(
        end=result.job_ends[job.order_id],
        assignments={k: a for k, a in result.assignments.items() if k in keys},
        machines={m.key: m for m in network.machines},
    )


# Watching -----------------------------------------------------------------------------------


def _take_back(
    session: Session, ops: Sequence[OrderOperation], why: str, now: datetime, *, exclude: bool
) -> list[tuple[str, str, str]]:
    """Reset ``ops``; return (unit, machine, job order) of each to cancel on the machine."""
    cancels = []
    for op in ops:
        if op.unit_id and op.machine and op.job_order_id:
            cancels.append((op.unit_id, op.machine, op.job_order_id))
        _LOGGER.info("taking %s back from %s/%s: %s", op.job_order_id, op.unit_id, op.machine, why)
        service.reset_operation(op, why=why, now=now, exclude=exclude)
    return cancels


def watch(
    *, session: Session, network_id: str, settings: OrdersSettings, now: datetime
) -> list[tuple[str, str, str]]:
    """Timeouts, breakdowns and lateness: take work back and ask for re-plans."""
    state = service.get_state(session=session, network_id=network_id)
    cancels: list[tuple[str, str, str]] = []
    deadline = now - timedelta(seconds=settings.accept_timeout_s)
    unanswered = session.scalars(
        select(OrderOperation).where(
            OrderOperation.status == OperationStatus.DISPATCHED,
            OrderOperation.dispatched_at < deadline,
        )
    ).all()
    if unanswered:
        cancels += _take_back(session, unanswered, "not accepted in time", now, exclude=True)
        service.request_replan(session=session, network_id=network_id, reason="dispatch timeout")
    down = service.down_machines(session=session, network_id=network_id, now=now)
    stranded = service.frozen_on(session=session, keys=list(down))
    if stranded:
        cancels += _take_back(session, stranded, "machine down", now, exclude=False)
    if sorted(down) != sorted(state.down_machines):
        changed = sorted(set(down) ^ set(state.down_machines))
        service.request_replan(
            session=session, network_id=network_id, reason=f"machines changed: {', '.join(changed)}"
        )
        state.down_machines = sorted(down)
    marks = service.window_marks(service.current_windows(session=session, now=now))
    if marks != state.windows_seen:
        service.request_replan(session=session, network_id=network_id, reason="windows changed")
        state.windows_seen = marks
    if _late(session, settings, state, now):
        service.request_replan(session=session, network_id=network_id, reason="operation late")
    if _waiting_on_down(session, down, now):
        # The plan expected the machine back by now: plan again from what is up.
        service.request_replan(session=session, network_id=network_id, reason="still down")
    return cancels


def _waiting_on_down(session: Session, down: dict[str, str], now: datetime) -> bool:
    due = session.scalars(
        select(OrderOperation).where(
            OrderOperation.status == OperationStatus.PLANNED,
            OrderOperation.planned_start <= now,
        )
    )
    return any(service.machine_key(op.unit_id or "", op.machine or "") in down for op in due)


def _late(session: Session, settings: OrdersSettings, state: SchedulerState, now: datetime) -> bool:
    tolerance = timedelta(seconds=settings.late_tolerance_s / settings.time_scale)
    running = session.scalars(
        select(OrderOperation).where(OrderOperation.status == OperationStatus.RUNNING)
    )
    speeds = machine_speeds(session)
    for op in running:
        if op.started_at is None:
            continue
        speed = speeds.get(service.machine_key(op.unit_id or "", op.machine or ""), 1.0)
        run_s = op.duration_s * speed / settings.time_scale
        due = op.started_at + timedelta(seconds=run_s) + tolerance
        if due < now and (state.planned_at is None or state.planned_at < due):
            return True
    return False


# Dispatching --------------------------------------------------------------------------------


@dataclass
class _Gate:
    """What the plan assumed before an operation may start: its material has arrived from the
    plant of each predecessor (end plus transport time) and from the suppliers (its purchases'
    release), and, on a machine that follows its plant's calendar, its planned start has come
    (the plan put it in open time)."""

    session: Session
    settings: OrdersSettings
    now: datetime
    calendars: dict[str, PlantCalendarSet]
    hours: dict[tuple[str, str], float] = field(default_factory=dict)
    releases: dict[tuple[str, str], datetime] = field(default_factory=dict)

    def supplied(self, op: OrderOperation) -> bool:
        release = self.releases.get((op.order_id, op.step))
        return release is None or release <= self.now

    def transport(self, from_unit: str, to_unit: str) -> timedelta:
        if from_unit == to_unit:
            return timedelta(0)
        if (from_unit, to_unit) not in self.hours:
            self.hours[(from_unit, to_unit)] = registry_service.transport_time(
                session=self.session, actor=SCHEDULER, from_unit_id=from_unit, to_unit_id=to_unit
            ).hours
        return timedelta(seconds=self.hours[(from_unit, to_unit)] * 3600 / self.settings.time_scale)

    def open(self, op: OrderOperation) -> bool:
        """The machine's planned work for ``op`` has begun: its change-over if it has one."""
        calendar = self.calendars.get(op.unit_id or "")
        begins = op.planned_setup_start or op.planned_start
        if calendar is None or op.machine in calendar.lights_out or begins is None:
            return True
        lead = timedelta(seconds=self.settings.tick_interval_s)
        return begins <= self.now + lead

    def not_refused(self, op: OrderOperation) -> bool:
        """The machine did not refuse ``op``, or its wait after refusing (see
        :func:`service.refused_until`) is over."""
        until = service.refused_until(
            op, first=self.settings.refusal_retry_s, longest=self.settings.refusal_retry_max_s
        )
        return until is None or until <= self.now

    def arrived(self, op: OrderOperation) -> bool:
        if not op.predecessors:
            return True
        before = {
            o.step: o
            for o in orders_service.operations_of(session=self.session, order_id=op.order_id)
        }
        for step in op.predecessors:
            pred = before.get(step)
            if pred is None or pred.status != OperationStatus.ENDED or pred.ended_at is None:
                return False
            if pred.ended_at + self.transport(pred.unit_id or "", op.unit_id or "") > self.now:
                return False
        return True


def dispatch_ready(
    *, session: Session, network_id: str, settings: OrdersSettings, now: datetime
) -> dict[str, list[OrderOperation]]:
    """Per unit, the operations to send now: each machine's next ready ones, in plan order."""
    gate = _Gate(
        session,
        settings,
        now,
        registry_service.network_calendars(session=session, network_id=network_id),
        releases=supplier_service.material_releases(session=session, now=now),
    )
    down = service.down_machines(session=session, network_id=network_id, now=now)
    horizon = now + timedelta(seconds=settings.horizon_s / settings.time_scale)
    outstanding: dict[str, int] = defaultdict(int)
    for op in session.scalars(
        select(OrderOperation).where(OrderOperation.status.in_(FROZEN_STATUSES))
    ):
        outstanding[service.machine_key(op.unit_id or "", op.machine or "")] += 1
    planned = session.scalars(
        select(OrderOperation)
        .where(OrderOperation.status == OperationStatus.PLANNED)
        .order_by(OrderOperation.planned_start)
    )
    queues: dict[str, list[OrderOperation]] = defaultdict(list)
    for op in planned:
        if op.unit_id and op.machine and op.planned_start is not None:
            queues[service.machine_key(op.unit_id, op.machine)].append(op)
    sent: dict[str, list[OrderOperation]] = defaultdict(list)
    for key, queue in queues.items():
        if key in down:
            continue
        for op in queue:
            if outstanding[key] >= settings.max_outstanding:
                break
            if op.planned_start is None or op.planned_start > horizon:
                break
            if not (
                gate.supplied(op) and gate.arrived(op) and gate.open(op) and gate.not_refused(op)
            ):
                break
            _mark_dispatched(op, now)
            outstanding[key] += 1
            sent[op.unit_id or ""].append(op)
    return sent


def _mark_dispatched(op: OrderOperation, now: datetime) -> None:
    op.attempt += 1
    op.job_order_id = f"{op.order_id}.{op.position}.{op.attempt}"
    op.status = OperationStatus.DISPATCHED
    op.dispatched_at = now


def dispatch_messages(
    *,
    session: Session,
    network_id: str,
    sent: dict[str, list[OrderOperation]],
    cancels: Sequence[tuple[str, str, str]],
    now: datetime,
) -> list[Outbound]:
    """Queue the dispatches and cancels in the outbox, in the caller's transaction."""
    outbound = []
    steps: dict[str, dict[str, dict[str, Any]]] = {}
    for unit_id, ops in sent.items():
        job_orders = []
        for op in ops:
            if op.order_id not in steps:
                order = session.get(Order, op.order_id)
                steps[op.order_id] = {} if order is None else _quoted_steps(session, order)
            job_orders.append(_job_order(op, steps[op.order_id].get(op.step, {})))
        body = {"kind": "dispatch", "job_orders": job_orders}
        outbound.append(_command(session, network_id, unit_id, body, now))
    for unit_id, machine, job_order_id in cancels:
        body = {"kind": "cancel", "machine": machine, "job_order_id": job_order_id}
        outbound.append(_command(session, network_id, unit_id, body, now))
    return outbound


def _job_order(op: OrderOperation, work: dict[str, Any]) -> dict[str, Any]:
    """The job order for ``op``; ``work``: its quoted planning fields (``machine_work``). A step
    with a setup family tells the machine its change-over rules, so that a machine (the
    simulated plants do) changes over when the family changes, as the plan counts it."""
    parameters: dict[str, Any] = {name: float(value) for name, value in op.requirements.items()}
    if work.get("setup_family") is not None:
        parameters |= messages.setup_parameters(work["setup_family"], work["setup_s"])
    return {
        "job_order_id": op.job_order_id,
        "machine": op.machine,
        "operation": op.name[:200],
        "process": op.process,
        "quantity": op.quantity,
        "planned_duration_s": op.duration_s,
        "parameters": parameters,
        "start": True,
        "planned_start": op.planned_start,
        "order_id": op.order_id,
    }


def _command(
    session: Session, network_id: str, unit_id: str, body: dict[str, Any], now: datetime
) -> Outbound:
    return outbox.command(
        session, origin=ORIGIN, network=network_id, unit=unit_id, body=body, now=now
    )


# Following the plants ------------------------------------------------------------------------


def ingest_hook(network_id: str, clock: Callable[[], datetime]) -> BatchHook:
    """What the ingest calls with every batch, in its transaction: the dispatcher follows the
    job events of the operations it sent (accepted, started, ended, rejected…)."""

    def on_batch(session: Session, batch: AppliedBatch) -> list[dict[str, Any]]:
        if batch.job_events:
            service.record_job_events(
                session=session, network_id=network_id, events=batch.job_events, now=clock()
            )
        return []

    return on_batch


# The tick -----------------------------------------------------------------------------------


def tick(
    *, session: Session, network_id: str, settings: OrdersSettings, now: datetime
) -> TickResult:
    result = TickResult()
    cancels = watch(session=session, network_id=network_id, settings=settings, now=now)
    state = service.get_state(session=session, network_id=network_id)
    current = True
    if state.replan_requested:
        current = replan(session=session, network_id=network_id, settings=settings, now=now)
        result.replanned = True
        result.events.append(Replanned(planned_at=now))
    # Nothing is sent from a stale plan: it may put work in time a quote held meanwhile.
    sent = (
        dispatch_ready(session=session, network_id=network_id, settings=settings, now=now)
        if current
        else {}
    )
    result.outbound = dispatch_messages(
        session=session, network_id=network_id, sent=sent, cancels=cancels, now=now
    )
    for unit_id, ops in sent.items():
        for op in ops:
            result.events.append(
                Dispatched(
                    unit_id=unit_id,
                    machine=op.machine,
                    job_order_id=op.job_order_id,
                    order_id=op.order_id,
                )
            )
    for order in orders_service.advance_orders(session=session, now=now):
        result.events.append(
            OrderMoved(order_id=order.id, status=order.status, customer_id=order.customer_id)
        )
    return result
