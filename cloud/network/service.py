"""Live network state: conditional writes from the ingest, scoped reads for the API and pages."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, and_, bindparam, case, delete, func, select, update
from sqlalchemy.orm import Session

from cloud.auth.models import Actor
from cloud.database import guarded_upsert, guarded_upsert_many, insert_for, utcnow
from cloud.events import Event
from cloud.exceptions import NotFound
from cloud.network.models import (
    MAX_MISSING_NODES,
    ActiveAlarm,
    ClockSkewRead,
    GatewayHealth,
    JobProgress,
    MachineLive,
    MachineState,
    MissingNode,
    NetworkOverview,
    UnitBirthMark,
    UnitClockSkew,
    UnitLive,
    UnitPresence,
)
from cloud.registry import service as registry_service
from cloud.registry.models import Machine
from cloud.telemetry.models import LatestMetric
from protocols.enums import MachineryItemState
from protocols.enums import UnitStatus as Availability
from protocols.messages import AlarmEvent, CapacityReport, JobEvent, UnitDescription
from protocols.topics import TopicKind

OFFLINE = Availability.OFFLINE
UNKNOWN = "unknown"


def _newer(table: Any, excluded: Any) -> Any:
    return excluded.seq > table.seq


def _offline_or_newer(table: Any, excluded: Any) -> Any:
    return (excluded.status == OFFLINE) | (excluded.seq > table.seq)


# Writes (ingest) ----------------------------------------------------------------------------


def apply_unit_state(
    *,
    session: Session,
    unit_id: str,
    status: Availability,
    reason: str | None,
    seq: int,
    at: datetime,
) -> bool:
    """Record online/offline. An offline always applies: the MQTT will carries the seq of the
    moment the gateway connected, older than the online message it follows; an online message
    applies only when newer than what is stored."""
    values = {"unit_id": unit_id, "status": status, "reason": reason, "seq": seq, "changed_at": at}
    return guarded_upsert(session, UnitPresence, values, keys=["unit_id"], guard=_offline_or_newer)


def apply_birth(*, session: Session, unit_id: str, description: UnitDescription, seq: int) -> bool:
    values = {
        "unit_id": unit_id,
        "gateway_version": description.gateway_version,
        "seq": seq,
        "received_at": utcnow(),
    }
    if not guarded_upsert(session, UnitBirthMark, values, keys=["unit_id"], guard=_newer):
        return False
    machines = [m.model_dump(mode="json") for m in description.machines]
    registry_service.record_birth(session=session, unit_id=unit_id, machines=machines)
    return True


def apply_capacities(
    *, session: Session, reports: Sequence[tuple[str, CapacityReport, int]]
) -> list[bool]:
    """Record (unit id, report, seq) capacity reports in order; per report, whether it was
    newer than the machine's stored state (and so written)."""
    rows = []
    for unit_id, report, seq in reports:
        # Unmapped vendor values (1.2) are the plant's to fix; the gateway's health shows them.
        # The outbox depth (1.3) is the unit's, not the machine's.
        values = report.model_dump(mode="python", exclude={"unmapped_values", "outbox_depth"})
        values.update(unit_id=unit_id, seq=seq, stored_job_orders=list(report.stored_job_orders))
        rows.append(values)
    written = guarded_upsert_many(
        session, MachineState, rows, keys=["unit_id", "machine"], guard=_newer
    )
    _record_outbox_depths(session, [(unit_id, report) for unit_id, report, _ in reports])
    return written


def _record_outbox_depths(session: Session, reports: Sequence[tuple[str, CapacityReport]]) -> None:
    """Keep each unit's newest reported outbox depth on its presence row (a gateway before
    protocol 1.3 reports none, and leaves the row as it is)."""
    newest: dict[str, CapacityReport] = {}
    for unit_id, report in reports:
        if report.outbox_depth is None:
            continue
        if unit_id not in newest or report.reported_at >= newest[unit_id].reported_at:
            newest[unit_id] = report
    for unit_id, report in newest.items():
        session.execute(
            update(UnitPresence)
            .where(
                UnitPresence.unit_id == unit_id,
                (UnitPresence.outbox_reported_at.is_(None))
                | (UnitPresence.outbox_reported_at <= report.reported_at),
            )
            .values(outbox_depth=report.outbox_depth, outbox_reported_at=report.reported_at)
        )


def apply_job_events(
    *, session: Session, events: Sequence[tuple[str, JobEvent, int]]
) -> list[bool]:
    """Record (unit id, event, seq) job events in order; per event, whether it was newer than
    the job order's stored progress (and so written)."""
    rows = []
    for unit_id, event, seq in events:
        values = event.model_dump(mode="python", exclude={"return_status"})
        values.update(unit_id=unit_id, seq=seq)
        rows.append(values)
    return guarded_upsert_many(
        session, JobProgress, rows, keys=["unit_id", "job_order_id"], guard=_newer
    )


def apply_alarm(*, session: Session, unit_id: str, alarm: AlarmEvent) -> None:
    if alarm.state.value == "cleared":
        session.execute(
            delete(ActiveAlarm).where(
                ActiveAlarm.unit_id == unit_id, ActiveAlarm.alarm_id == alarm.alarm_id
            )
        )
        return
    values = {
        "unit_id": unit_id,
        "alarm_id": alarm.alarm_id,
        "asset": alarm.asset,
        "code": alarm.code,
        "severity": alarm.severity,
        "text": alarm.text,
        "occurred_at": alarm.occurred_at,
    }
    guarded_upsert(session, ActiveAlarm, values, keys=["unit_id", "alarm_id"])


def record_clock_skew(
    *, session: Session, unit_id: str, ahead_s: float, messages: int, at: datetime
) -> None:
    """Note that ``messages`` of the unit's messages came from a clock ``ahead_s`` ahead."""
    table = UnitClockSkew.__table__
    statement = insert_for(session)(UnitClockSkew).values(
        unit_id=unit_id, ahead_s=ahead_s, messages=messages, last_seen_at=at
    )
    statement = statement.on_conflict_do_update(
        index_elements=["unit_id"],
        set_={
            "ahead_s": statement.excluded.ahead_s,
            "messages": table.c.messages + statement.excluded.messages,
            "last_seen_at": statement.excluded.last_seen_at,
        },
    )
    session.execute(statement)


def forget_unit(*, session: Session, unit_id: str) -> None:
    """Drop a removed unit's live state."""
    models = (UnitPresence, UnitBirthMark, UnitClockSkew, MachineState, JobProgress, ActiveAlarm)
    for model in models:
        session.execute(delete(model).where(model.unit_id == unit_id))


# Reads (API, pages) -------------------------------------------------------------------------


def _statuses(session: Session, unit_ids: Sequence[str]) -> dict[str, UnitPresence]:
    rows = session.scalars(select(UnitPresence).where(UnitPresence.unit_id.in_(unit_ids)))
    return {row.unit_id: row for row in rows}


_LIVE_FIELDS = (
    "available",
    "state",
    "mode",
    "running_job_order",
    "stored_job_orders",
    "free_slots",
    "queue_free_at",
    "reported_at",
)


def machines_live(
    *, session: Session, actor: Actor, unit_id: str | None = None, machine: str | None = None
) -> list[MachineLive]:
    """Registry machines joined with their live state, latest metrics and alarm counts (no
    latest metrics of a unit that keeps its telemetry to itself, but to its own plant).

    Three queries of plain rows, no ORM objects, the first one built once: this is the pages'
    and the API's most frequent read, and it must stay cheap while the ingest keeps the process
    busy (building the join and adapting a new statement's result cost a third of a call)."""
    units = {*registry_service.machine_scope(actor)}
    if unit_id is not None:
        units.add(unit_id)
    if len(units) > 1 or None in units:  # a plant asking for another unit's machines
        return []
    parameters = {"unit": next(iter(units), None), "machine": machine}
    statement = _machines_statement(by_unit=bool(units), by_machine=machine is not None)
    connection = session.connection()
    rows = connection.execute(statement, parameters).all()
    unit_ids = sorted({row[0] for row in rows})
    if not unit_ids:
        return []
    hidden = registry_service.telemetry_hidden_from(session=session, actor=actor, unit_ids=unit_ids)
    latest = _latest_metrics(connection, [unit for unit in unit_ids if unit not in hidden])
    alarms = _alarm_counts(connection, unit_ids)
    machines = []
    for unit, name, title, status, has_state, *state in rows:
        live = dict(zip(_LIVE_FIELDS, state, strict=True)) if has_state is not None else {}
        machines.append(
            MachineLive(
                unit_id=unit,
                machine=name,
                name=title,
                online=status is not None and status != OFFLINE,
                latest_metrics=latest.get((unit, name), {}),
                telemetry_hidden=unit in hidden,
                active_alarms=alarms.get((unit, name), 0),
                **live,
            )
        )
    return machines


@functools.cache
def _machines_statement(*, by_unit: bool, by_machine: bool) -> Select[Any]:
    """The machines with their unit's status and their live state, in unit and machine order;
    of the unit ``:unit`` and the machine ``:machine`` alone when asked."""
    query = (
        select(
            Machine.unit_id,
            Machine.machine,
            Machine.name,
            UnitPresence.status,
            MachineState.machine.label("has_state"),
            *(getattr(MachineState, name) for name in _LIVE_FIELDS),
        )
        .select_from(Machine)
        .outerjoin(UnitPresence, UnitPresence.unit_id == Machine.unit_id)
        .outerjoin(
            MachineState,
            and_(MachineState.unit_id == Machine.unit_id, MachineState.machine == Machine.machine),
        )
        .order_by(Machine.unit_id, Machine.machine)
    )
    if by_unit:
        query = query.where(Machine.unit_id == bindparam("unit"))
    if by_machine:
        query = query.where(Machine.machine == bindparam("machine"))
    return query


_LATEST = LatestMetric.__table__.c
_LATEST_OF_UNITS = select(
    _LATEST.unit_id, _LATEST.machine, _LATEST.metric, _LATEST.value_number, _LATEST.value_text
).where(_LATEST.unit_id.in_(bindparam("units", expanding=True)))
_ALARMS = ActiveAlarm.__table__.c
_ALARM_COUNTS_OF_UNITS = (
    select(_ALARMS.unit_id, _ALARMS.asset, func.count())
    .where(_ALARMS.unit_id.in_(bindparam("units", expanding=True)))
    .group_by(_ALARMS.unit_id, _ALARMS.asset)
)
"""Core statements built once, run on the connection: the live view is the API's most frequent
read, and the ORM's statement building and row loading cost more than the queries."""


def _latest_metrics(
    connection: Connection, unit_ids: Sequence[str]
) -> dict[tuple[str, str], dict[str, Any]]:
    result: dict[tuple[str, str], dict[str, Any]] = defaultdict(dict)
    # all(): the rows fetched at once, not one cursor call each (hundreds per request)
    for unit, machine, metric, number, text in connection.execute(
        _LATEST_OF_UNITS, {"units": unit_ids}
    ).all():
        result[(unit, machine)][metric] = number if number is not None else text
    return result


def _alarm_counts(connection: Connection, unit_ids: Sequence[str]) -> dict[tuple[str, str], int]:
    rows = connection.execute(_ALARM_COUNTS_OF_UNITS, {"units": unit_ids})
    return {(unit, asset): count for unit, asset, count in rows}


def events_visible_to(*, session: Session, actor: Actor) -> Callable[[Event], bool]:
    """Which live events ``actor`` may see: a coordinator every unit's, a plant its own; the
    telemetry of a unit that does not share it, its own plant alone. As the units and policies
    stand now (a stream asks once, when it opens)."""
    unit_ids = {unit.id for unit in registry_service.list_units(session=session, actor=actor)}
    private = registry_service.telemetry_hidden_from(
        session=session, actor=actor, unit_ids=sorted(unit_ids)
    )
    telemetry = TopicKind.TELEMETRY.value

    def visible(event: Event) -> bool:
        unit_id = event.get("unit_id")
        if unit_id in private and event.get("type") == telemetry:
            return False
        return actor.is_coordinator or unit_id in unit_ids

    return visible


def machine_live(*, session: Session, actor: Actor, unit_id: str, machine: str) -> MachineLive:
    registry_service.get_machine(session=session, actor=actor, unit_id=unit_id, machine=machine)
    return machines_live(session=session, actor=actor, unit_id=unit_id, machine=machine)[0]


def overview(*, session: Session, actor: Actor, network_id: str) -> NetworkOverview:
    units = registry_service.list_units(session=session, actor=actor, network_id=network_id)
    unit_ids = [unit.id for unit in units]
    statuses = _statuses(session, unit_ids)
    births = {
        b.unit_id: b
        for b in session.scalars(select(UnitBirthMark).where(UnitBirthMark.unit_id.in_(unit_ids)))
    }
    counts = _machine_counts(session, unit_ids)
    skews = {
        row.unit_id: ClockSkewRead.model_validate(row)
        for row in session.scalars(select(UnitClockSkew).where(UnitClockSkew.unit_id.in_(unit_ids)))
    }
    unit_views = []
    for unit in units:
        status = statuses.get(unit.id)
        birth = births.get(unit.id)
        machines, busy, free = counts.get(unit.id, (0, 0, 0))
        unit_views.append(
            UnitLive(
                unit_id=unit.id,
                company=unit.company,
                site=unit.site,
                country=unit.country,
                status=status.status if status else UNKNOWN,
                changed_at=status.changed_at if status else None,
                gateway_version=birth.gateway_version if birth else None,
                machines=machines,
                busy_machines=busy,
                free_slots=free,
                clock_skew=skews.get(unit.id),
            )
        )
    return NetworkOverview(
        network_id=network_id,
        units_total=len(unit_views),
        units_online=sum(1 for u in unit_views if u.status == Availability.ONLINE),
        machines_total=sum(u.machines for u in unit_views),
        machines_executing=sum(u.busy_machines for u in unit_views),
        free_slots=sum(u.free_slots for u in unit_views),
        units=unit_views,
    )


def gateway_health(*, session: Session, actor: Actor, unit_id: str) -> GatewayHealth:
    """The gateway of ``unit_id`` as the coordinator knows it; a plant reads only its own unit
    (another is not found), the coordinator any."""
    registry_service.get_unit(session=session, actor=actor, unit_id=unit_id)
    status = session.get(UnitPresence, unit_id)
    birth = session.get(UnitBirthMark, unit_id)
    skew = session.get(UnitClockSkew, unit_id)
    missing = [
        MissingNode(machine=machine, metric=str(metric.get("name", "")), reason=metric["missing"])
        for machine, metrics in session.execute(
            select(Machine.machine, Machine.metrics)
            .where(Machine.unit_id == unit_id)
            .order_by(Machine.machine)
        )
        for metric in metrics or []
        if isinstance(metric, dict) and metric.get("missing")
    ]
    return GatewayHealth(
        unit_id=unit_id,
        status=status.status if status else UNKNOWN,
        reason=status.reason if status else None,
        changed_at=status.changed_at if status else None,
        gateway_version=birth.gateway_version if birth else None,
        birth_received_at=birth.received_at if birth else None,
        clock_skew=ClockSkewRead.model_validate(skew) if skew else None,
        outbox_depth=status.outbox_depth if status else None,
        outbox_reported_at=status.outbox_reported_at if status else None,
        missing_nodes=missing[:MAX_MISSING_NODES],
        missing_total=len(missing),
    )


def _machine_counts(session: Session, unit_ids: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    executing = MachineState.state == MachineryItemState.EXECUTING
    query = (
        select(
            Machine.unit_id,
            func.count(Machine.id),
            func.coalesce(func.sum(case((executing, 1), else_=0)), 0),
            func.coalesce(func.sum(MachineState.free_slots), 0),
        )
        .outerjoin(
            MachineState,
            and_(MachineState.unit_id == Machine.unit_id, MachineState.machine == Machine.machine),
        )
        .where(Machine.unit_id.in_(unit_ids))
        .group_by(Machine.unit_id)
    )
    return {unit: (int(n), int(busy), int(free)) for unit, n, busy, free in session.execute(query)}


def list_jobs(*, session: Session, actor: Actor, unit_id: str | None = None) -> list[JobProgress]:
    visible = [u.id for u in registry_service.list_units(session=session, actor=actor)]
    if unit_id is not None:
        if unit_id not in visible:
            raise NotFound(f"unit {unit_id!r} does not exist")
        visible = [unit_id]
    query = (
        select(JobProgress)
        .where(JobProgress.unit_id.in_(visible))
        .order_by(JobProgress.occurred_at.desc())
        .limit(500)
    )
    return list(session.scalars(query))
