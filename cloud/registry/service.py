"""Registry operations. Every function takes the session and, where callers differ, the actor:
scoping happens here, so no router can forget it.

Convention: an endpoint a role may never use answers 403; another tenant's resource behind an
endpoint the role may use answers 404, so its existence is not revealed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, delete, select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.database import utcnow
from cloud.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied
from cloud.geo import Location, distance_km
from cloud.registry.models import (
    Machine,
    MachineCreate,
    MachineStatic,
    MemberRate,
    MemberRateSet,
    Network,
    NetworkCreate,
    NetworkUpdate,
    OperatorRead,
    OperatorSet,
    PlantCalendar,
    PlantCalendarSet,
    PlantOperator,
    Technician,
    TechnicianCreate,
    TechnicianUpdate,
    TransportTime,
    TransportTimeRead,
    TransportTimeSet,
    Unit,
    UnitCreate,
    UnitUpdate,
    shares_telemetry,
)
from protocols.topics import IDENTIFIER_PATTERN

DEFAULT_ROAD_SPEED_KMH = 60.0
ROAD_DETOUR_FACTOR = 1.3


def _apply(row: object, changes: dict[str, Any]) -> None:
    for field, value in changes.items():
        setattr(row, field, value)


# Networks -----------------------------------------------------------------------------------


def create_network(*, session: Session, actor: Actor, spec: NetworkCreate) -> Network:
    require_role(actor, Role.COORDINATOR)
    if session.get(Network, spec.id) is not None:
        raise Conflict(f"network {spec.id!r} already exists")
    network = Network(**spec.model_dump(mode="json"))
    session.add(network)
    session.flush()
    return network


def ensure_network(*, session: Session, network_id: str) -> None:
    """Create the coordinator's own network on first start (kind: dynamic until edited)."""
    if session.get(Network, network_id) is None:
        session.add(Network(id=network_id, name=network_id, kind="dynamic", description=""))


def list_networks(*, session: Session, actor: Actor) -> list[Network]:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    query = select(Network).order_by(Network.id)
    if actor.role is Role.PLANT:
        query = query.join(Unit, Unit.network_id == Network.id).where(Unit.id == actor.unit_id)
    return list(session.scalars(query))


def get_network(*, session: Session, actor: Actor, network_id: str) -> Network:
    for network in list_networks(session=session, actor=actor):
        if network.id == network_id:
            return network
    raise NotFound(f"network {network_id!r} does not exist")


def update_network(
    *, session: Session, actor: Actor, network_id: str, changes: NetworkUpdate
) -> Network:
    require_role(actor, Role.COORDINATOR)
    network = get_network(session=session, actor=actor, network_id=network_id)
    _apply(network, changes.model_dump(mode="json", exclude_unset=True))
    return network


def delete_network(*, session: Session, actor: Actor, network_id: str) -> None:
    require_role(actor, Role.COORDINATOR)
    network = get_network(session=session, actor=actor, network_id=network_id)
    if session.scalars(select(Unit.id).where(Unit.network_id == network_id)).first():
        raise Conflict(f"network {network_id!r} still has member units; remove them first")
    session.delete(network)


# Units --------------------------------------------------------------------------------------


def get_unit_row(*, session: Session, unit_id: str) -> Unit:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id!r} does not exist")
    return unit


def _unit_query(actor: Actor) -> Select[Any]:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    query = select(Unit).order_by(Unit.id)
    if actor.role is Role.PLANT:
        query = query.where(Unit.id == actor.unit_id)
    return query


def list_units(*, session: Session, actor: Actor, network_id: str | None = None) -> list[Unit]:
    query = _unit_query(actor)
    if network_id is not None:
        query = query.where(Unit.network_id == network_id)
    return list(session.scalars(query))


def get_unit(*, session: Session, actor: Actor, unit_id: str) -> Unit:
    unit = session.scalars(_unit_query(actor).where(Unit.id == unit_id)).first()
    if unit is None:
        raise NotFound(f"unit {unit_id!r} does not exist")
    return unit


def onboard_unit(*, session: Session, actor: Actor, spec: UnitCreate) -> Unit:
    require_role(actor, Role.COORDINATOR)
    if session.get(Network, spec.network_id) is None:
        raise InvalidInput(f"network {spec.network_id!r} does not exist")
    if session.get(Unit, spec.id) is not None:
        raise Conflict(f"unit {spec.id!r} already exists")
    unit = Unit(**spec.model_dump(mode="json"))
    session.add(unit)
    session.flush()
    return unit


def update_unit(*, session: Session, actor: Actor, unit_id: str, changes: UnitUpdate) -> Unit:
    require_role(actor, Role.COORDINATOR)
    unit = get_unit(session=session, actor=actor, unit_id=unit_id)
    _apply(unit, changes.model_dump(mode="json", exclude_unset=True))
    return unit


def remove_unit(*, session: Session, actor: Actor, unit_id: str) -> None:
    """Remove a unit with its machines, technicians, rates, transport times and live state."""
    require_role(actor, Role.COORDINATOR)
    unit = get_unit(session=session, actor=actor, unit_id=unit_id)
    for model in (Machine, Technician):
        column = Machine.unit_id if model is Machine else Technician.employer_unit_id
        session.execute(delete(model).where(column == unit_id))
    session.execute(delete(PlantCalendar).where(PlantCalendar.unit_id == unit_id))
    session.execute(delete(MemberRate).where(MemberRate.unit_id == unit_id))
    session.execute(
        delete(TransportTime).where(
            (TransportTime.from_unit_id == unit_id) | (TransportTime.to_unit_id == unit_id)
        )
    )
    session.delete(unit)


def set_mqtt_password_hash(
    *, session: Session, actor: Actor, unit_id: str, password_hash: str
) -> Unit:
    """Store a gateway's broker credential hash: the coordinator, or the plant for itself."""
    unit = get_unit(session=session, actor=actor, unit_id=unit_id)
    unit.mqtt_password_hash = password_hash
    return unit


def network_units(*, session: Session, network_id: str) -> Sequence[Unit]:
    """All units of a network, unscoped: for the broker configuration and the ingest."""
    return list(session.scalars(select(Unit).where(Unit.network_id == network_id)))


# Machines -----------------------------------------------------------------------------------


def machine_query(actor: Actor) -> Select[Any]:
    """The machines ``actor`` may see, in unit and machine order (a statement to refine)."""
    query = select(Machine).order_by(Machine.unit_id, Machine.machine)
    for unit_id in machine_scope(actor):
        query = query.where(Machine.unit_id == unit_id)
    return query


def machine_scope(actor: Actor) -> tuple[str | None, ...]:
    """The units whose machines alone ``actor`` may see: none for a coordinator (every
    machine), its own for a plant. :func:`machine_query`'s rule, for a statement built once
    with the unit as a parameter."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    return (actor.unit_id,) if actor.role is Role.PLANT else ()


def metric_units(
    *, session: Session, unit_ids: Sequence[str]
) -> dict[tuple[str, str], dict[str, str]]:
    """The unit of every metric of the units' machines, as their births declared it, by
    (unit, machine) and metric name ("" where none was declared). For pages that already
    scoped ``unit_ids`` to the reader."""
    rows = session.execute(
        select(Machine.unit_id, Machine.machine, Machine.metrics).where(
            Machine.unit_id.in_(unit_ids)
        )
    )
    return {
        (unit_id, machine): {
            str(metric.get("name", "")): str(metric.get("unit") or "")
            for metric in metrics or []
            if isinstance(metric, dict)
        }
        for unit_id, machine, metrics in rows
    }


def get_machine(*, session: Session, actor: Actor, unit_id: str, machine: str) -> Machine:
    row = session.scalars(
        machine_query(actor).where(Machine.unit_id == unit_id, Machine.machine == machine)
    ).first()
    if row is None:
        raise NotFound(f"machine {machine!r} of unit {unit_id!r} does not exist")
    return row


def telemetry_hidden_from(*, session: Session, actor: Actor, unit_ids: Sequence[str]) -> set[str]:
    """Of ``unit_ids``, the units whose telemetry ``actor`` may not see: those that keep it to
    themselves (``share_telemetry: false``), unless ``actor`` is that unit's own plant."""
    if not unit_ids:
        return set()
    query = select(Unit.id, Unit.sharing_policy).where(Unit.id.in_(unit_ids))
    return {
        unit_id
        for unit_id, policy in session.execute(query)
        if not shares_telemetry(policy or {})
        and not (actor.role is Role.PLANT and actor.unit_id == unit_id)
    }


def require_telemetry_visible(*, session: Session, actor: Actor, unit_id: str) -> None:
    """Refuse (403) to show a unit's telemetry to anyone but its own plant when it does not
    share it."""
    if telemetry_hidden_from(session=session, actor=actor, unit_ids=[unit_id]):
        raise PermissionDenied(
            f"unit {unit_id!r} keeps its telemetry to itself (sharing_policy.share_telemetry"
            " is false)"
        )


def add_machine(*, session: Session, actor: Actor, unit_id: str, spec: MachineCreate) -> Machine:
    """Register a machine before its gateway announces it (static data only)."""
    get_unit(session=session, actor=actor, unit_id=unit_id)
    existing = session.scalars(
        select(Machine).where(Machine.unit_id == unit_id, Machine.machine == spec.machine)
    ).first()
    if existing is not None:
        raise Conflict(f"machine {spec.machine!r} of unit {unit_id!r} already exists")
    row = Machine(unit_id=unit_id, **spec.model_dump(mode="json"))
    session.add(row)
    session.flush()
    return row


def update_machine(
    *, session: Session, actor: Actor, unit_id: str, machine: str, changes: MachineStatic
) -> Machine:
    row = get_machine(session=session, actor=actor, unit_id=unit_id, machine=machine)
    _apply(row, changes.model_dump(mode="json", exclude_unset=True))
    return row


def remove_machine(*, session: Session, actor: Actor, unit_id: str, machine: str) -> None:
    require_role(actor, Role.COORDINATOR)
    session.delete(get_machine(session=session, actor=actor, unit_id=unit_id, machine=machine))


def record_birth(
    *, session: Session, unit_id: str, machines: Sequence[dict[str, Any]]
) -> list[Machine]:
    """Create or refresh machines from a unit's birth; static data added by people is kept."""
    existing = {
        m.machine: m for m in session.scalars(select(Machine).where(Machine.unit_id == unit_id))
    }
    now = utcnow()
    rows = []
    for description in machines:
        row = existing.get(description["machine"])
        if row is None:
            row = Machine(unit_id=unit_id, machine=description["machine"], static_data={})
            session.add(row)
        _apply(row, {k: v for k, v in description.items() if k != "machine"})
        row.announced_at = now
        rows.append(row)
    session.flush()
    return rows


# Technicians --------------------------------------------------------------------------------


def get_technician_row(*, session: Session, technician_id: str) -> Technician:
    technician = session.get(Technician, technician_id)
    if technician is None:
        raise NotFound(f"technician {technician_id!r} does not exist")
    return technician


def _technician_query(actor: Actor) -> Select[Any]:
    require_role(actor, Role.COORDINATOR, Role.PLANT, Role.TECHNICIAN)
    query = select(Technician).order_by(Technician.id)
    if actor.role is Role.PLANT:
        query = query.where(Technician.employer_unit_id == actor.unit_id)
    elif actor.role is Role.TECHNICIAN:
        query = query.where(Technician.id == actor.technician_id)
    return query


def list_technicians(*, session: Session, actor: Actor) -> list[Technician]:
    return list(session.scalars(_technician_query(actor)))


def get_technician(*, session: Session, actor: Actor, technician_id: str) -> Technician:
    row = session.scalars(_technician_query(actor).where(Technician.id == technician_id)).first()
    if row is None:
        raise NotFound(f"technician {technician_id!r} does not exist")
    return row


def add_technician(*, session: Session, actor: Actor, spec: TechnicianCreate) -> Technician:
    """The coordinator, or a plant for its own employees."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    get_unit(session=session, actor=actor, unit_id=spec.employer_unit_id)
    if session.get(Technician, spec.id) is not None:
        raise Conflict(f"technician {spec.id!r} already exists")
    row = Technician(**spec.model_dump(mode="json"))
    session.add(row)
    session.flush()
    return row


def set_technician_mqtt_password_hash(
    *, session: Session, actor: Actor, technician_id: str, password_hash: str
) -> Technician:
    """Store a technician device's broker credential hash: the coordinator, or the employer."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    technician = get_technician(session=session, actor=actor, technician_id=technician_id)
    technician.mqtt_password_hash = password_hash
    return technician


def update_technician(
    *, session: Session, actor: Actor, technician_id: str, changes: TechnicianUpdate
) -> Technician:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    row = get_technician(session=session, actor=actor, technician_id=technician_id)
    _apply(row, changes.model_dump(mode="json", exclude_unset=True))
    return row


def remove_technician(*, session: Session, actor: Actor, technician_id: str) -> None:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    session.delete(get_technician(session=session, actor=actor, technician_id=technician_id))


# Plant calendars ----------------------------------------------------------------------------


def set_calendar(
    *, session: Session, actor: Actor, unit_id: str, spec: PlantCalendarSet
) -> PlantCalendar:
    """Set when a plant works: the coordinator, or the plant for itself."""
    get_unit(session=session, actor=actor, unit_id=unit_id)
    row = session.get(PlantCalendar, unit_id)
    if row is None:
        row = PlantCalendar(unit_id=unit_id)
        session.add(row)
    _apply(row, spec.model_dump(mode="json"))
    session.flush()
    return row


def get_calendar(*, session: Session, actor: Actor, unit_id: str) -> PlantCalendar:
    get_unit(session=session, actor=actor, unit_id=unit_id)
    row = session.get(PlantCalendar, unit_id)
    if row is None:
        raise NotFound(f"unit {unit_id!r} has no calendar: its machines work around the clock")
    return row


def remove_calendar(*, session: Session, actor: Actor, unit_id: str) -> None:
    session.delete(get_calendar(session=session, actor=actor, unit_id=unit_id))


def network_calendars(*, session: Session, network_id: str) -> dict[str, PlantCalendarSet]:
    """Every calendar of a network's units, unscoped: for the scheduler."""
    rows = session.scalars(
        select(PlantCalendar)
        .join(Unit, Unit.id == PlantCalendar.unit_id)
        .where(Unit.network_id == network_id)
    )
    return {row.unit_id: PlantCalendarSet.model_validate(row) for row in rows}


# Operators ----------------------------------------------------------------------------------


def set_operator(
    *, session: Session, actor: Actor, unit_id: str, operator_id: str, spec: OperatorSet
) -> PlantOperator:
    """Add or change a plant's operator: the coordinator, or the plant for itself."""
    get_unit(session=session, actor=actor, unit_id=unit_id)
    if not IDENTIFIER_PATTERN.fullmatch(operator_id):
        raise InvalidInput(f"operator id {operator_id!r} must match {IDENTIFIER_PATTERN.pattern}")
    row = session.get(PlantOperator, (unit_id, operator_id))
    if row is None:
        row = PlantOperator(unit_id=unit_id, operator_id=operator_id)
        session.add(row)
    _apply(row, spec.model_dump(mode="json"))
    session.flush()
    return row


def list_operators(*, session: Session, actor: Actor, unit_id: str) -> list[PlantOperator]:
    get_unit(session=session, actor=actor, unit_id=unit_id)
    query = select(PlantOperator).where(PlantOperator.unit_id == unit_id)
    return list(session.scalars(query.order_by(PlantOperator.operator_id)))


def remove_operator(*, session: Session, actor: Actor, unit_id: str, operator_id: str) -> None:
    get_unit(session=session, actor=actor, unit_id=unit_id)
    row = session.get(PlantOperator, (unit_id, operator_id))
    if row is None:
        raise NotFound(f"unit {unit_id!r} has no operator {operator_id!r}")
    session.delete(row)


def network_operators(*, session: Session, network_id: str) -> list[OperatorRead]:
    """Every operator of a network's units, unscoped: for the scheduler."""
    rows = session.scalars(
        select(PlantOperator)
        .join(Unit, Unit.id == PlantOperator.unit_id)
        .where(Unit.network_id == network_id)
        .order_by(PlantOperator.unit_id, PlantOperator.operator_id)
    )
    return [OperatorRead.model_validate(row) for row in rows]


# Member rates -------------------------------------------------------------------------------


def set_rate(
    *, session: Session, actor: Actor, unit_id: str, process: str, spec: MemberRateSet
) -> MemberRate:
    """Set what a member charges for a process: the coordinator, or the plant for itself."""
    get_unit(session=session, actor=actor, unit_id=unit_id)
    row = session.get(MemberRate, (unit_id, process))
    if row is None:
        row = MemberRate(unit_id=unit_id, process=process)
        session.add(row)
    _apply(row, spec.model_dump())
    session.flush()
    return row


def list_rates(*, session: Session, actor: Actor, unit_id: str) -> list[MemberRate]:
    get_unit(session=session, actor=actor, unit_id=unit_id)
    query = select(MemberRate).where(MemberRate.unit_id == unit_id)
    return list(session.scalars(query.order_by(MemberRate.process)))


def remove_rate(*, session: Session, actor: Actor, unit_id: str, process: str) -> None:
    get_unit(session=session, actor=actor, unit_id=unit_id)
    row = session.get(MemberRate, (unit_id, process))
    if row is None:
        raise NotFound(f"unit {unit_id!r} has no rate for {process!r}")
    session.delete(row)


def network_rates(*, session: Session, network_id: str) -> dict[str, dict[str, MemberRate]]:
    """Every member's rates by unit and process, unscoped: for pricing quotes."""
    rows = session.scalars(
        select(MemberRate)
        .join(Unit, Unit.id == MemberRate.unit_id)
        .where(Unit.network_id == network_id)
    )
    found: dict[str, dict[str, MemberRate]] = {}
    for row in rows:
        found.setdefault(row.unit_id, {})[row.process] = row
    return found


# Transport times ----------------------------------------------------------------------------


def set_transport_time(
    *, session: Session, actor: Actor, spec: TransportTimeSet
) -> TransportTimeRead:
    require_role(actor, Role.COORDINATOR)
    for unit_id in (spec.from_unit_id, spec.to_unit_id):
        get_unit(session=session, actor=actor, unit_id=unit_id)
    session.merge(TransportTime(**spec.model_dump()))
    return TransportTimeRead(**spec.model_dump(), derived=False)


def transport_time(
    *, session: Session, actor: Actor, from_unit_id: str, to_unit_id: str
) -> TransportTimeRead:
    """The given transport time, or one estimated from the great-circle distance by road."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    if actor.role is Role.PLANT:
        origin, target = _units_seen_by_a_plant(session, actor, from_unit_id, to_unit_id)
    else:
        origin = get_unit_row(session=session, unit_id=from_unit_id)
        target = get_unit_row(session=session, unit_id=to_unit_id)
    given = session.get(TransportTime, (from_unit_id, to_unit_id))
    if given is not None:
        return TransportTimeRead(
            from_unit_id=from_unit_id, to_unit_id=to_unit_id, hours=given.hours, derived=False
        )
    hours = road_hours(
        Location(origin.latitude, origin.longitude), Location(target.latitude, target.longitude)
    )
    return TransportTimeRead(
        from_unit_id=from_unit_id, to_unit_id=to_unit_id, hours=round(hours, 3), derived=True
    )


def transport_hours(*, session: Session, units: Sequence[Unit]) -> dict[tuple[str, str], float]:
    """Hours between every two of ``units`` (each pair as :func:`transport_time` gives it),
    unscoped, with one query for the given ones: for planning, which needs them all."""
    ids = [unit.id for unit in units]
    given = {
        (row.from_unit_id, row.to_unit_id): row.hours
        for row in session.scalars(
            select(TransportTime).where(
                TransportTime.from_unit_id.in_(ids), TransportTime.to_unit_id.in_(ids)
            )
        )
    }
    found = {}
    for a in units:
        origin = Location(a.latitude, a.longitude)
        for b in units:
            if a.id == b.id:
                continue
            hours = given.get((a.id, b.id))
            if hours is None:
                hours = round(road_hours(origin, Location(b.latitude, b.longitude)), 3)
            found[(a.id, b.id)] = hours
    return found


def road_hours(origin: Location, target: Location) -> float:
    """Transport time by road estimated from the great-circle distance, where none is given."""
    return distance_km(origin, target) * ROAD_DETOUR_FACTOR / DEFAULT_ROAD_SPEED_KMH


def _units_seen_by_a_plant(
    session: Session, actor: Actor, from_unit_id: str, to_unit_id: str
) -> tuple[Unit, Unit]:
    """Both units, when one is the plant's own and the other is in its network; otherwise one
    and the same 404, so that a plant cannot tell an unknown unit from another network's."""
    hidden = NotFound("no transport time between these units")
    if actor.unit_id not in (from_unit_id, to_unit_id):
        raise hidden
    origin, target = session.get(Unit, from_unit_id), session.get(Unit, to_unit_id)
    if origin is None or target is None or origin.network_id != target.network_id:
        raise hidden
    return origin, target
