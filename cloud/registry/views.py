"""Registry endpoints: networks, units, machines (static data), technicians, members' rates,
transport times."""

from __future__ import annotations

from fastapi import APIRouter, Response, status

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.brokerconfig import service as broker_service
from cloud.operations.http import ApiRoute, answers
from cloud.registry import flows, service
from cloud.registry.models import (
    MachineCreate,
    MachineRead,
    MachineStatic,
    MemberRateRead,
    MemberRateSet,
    MqttCredentials,
    NetworkCreate,
    NetworkRead,
    NetworkUpdate,
    OperatorRead,
    OperatorSet,
    PlantCalendarRead,
    PlantCalendarSet,
    TechnicianCreate,
    TechnicianRead,
    TechnicianUpdate,
    TransportTimeRead,
    TransportTimeSet,
    Unit,
    UnitCreate,
    UnitRead,
    UnitUpdate,
)
from protocols.enums import ProcessKind

router = APIRouter(prefix="/api", tags=["registry"], route_class=ApiRoute)
NO_CONTENT = status.HTTP_204_NO_CONTENT


def _unit(unit: Unit) -> UnitRead:
    read = UnitRead.model_validate(unit)
    read.has_mqtt_credentials = unit.mqtt_password_hash is not None
    return read


@router.get("/networks")
def list_networks(session: DbSession, actor: CurrentActor) -> list[NetworkRead]:
    rows = service.list_networks(session=session, actor=actor)
    return [NetworkRead.model_validate(row) for row in rows]


@router.post("/networks", status_code=status.HTTP_201_CREATED, responses=answers(409))
def create_network(spec: NetworkCreate, session: DbSession, actor: CurrentActor) -> NetworkRead:
    return NetworkRead.model_validate(
        service.create_network(session=session, actor=actor, spec=spec)
    )


@router.get("/networks/{network_id}")
def get_network(network_id: str, session: DbSession, actor: CurrentActor) -> NetworkRead:
    row = service.get_network(session=session, actor=actor, network_id=network_id)
    return NetworkRead.model_validate(row)


@router.patch("/networks/{network_id}")
def update_network(
    network_id: str, changes: NetworkUpdate, session: DbSession, actor: CurrentActor
) -> NetworkRead:
    row = service.update_network(
        session=session, actor=actor, network_id=network_id, changes=changes
    )
    return NetworkRead.model_validate(row)


@router.delete("/networks/{network_id}", status_code=NO_CONTENT, responses=answers(409))
def delete_network(network_id: str, session: DbSession, actor: CurrentActor) -> Response:
    service.delete_network(session=session, actor=actor, network_id=network_id)
    return Response(status_code=NO_CONTENT)


@router.get("/units")
def list_units(
    session: DbSession, actor: CurrentActor, network_id: str | None = None
) -> list[UnitRead]:
    return [
        _unit(u) for u in service.list_units(session=session, actor=actor, network_id=network_id)
    ]


@router.post("/units", status_code=status.HTTP_201_CREATED, responses=answers(409))
def onboard_unit(spec: UnitCreate, session: DbSession, actor: CurrentActor) -> UnitRead:
    return _unit(service.onboard_unit(session=session, actor=actor, spec=spec))


@router.get("/units/{unit_id}")
def get_unit(unit_id: str, session: DbSession, actor: CurrentActor) -> UnitRead:
    return _unit(service.get_unit(session=session, actor=actor, unit_id=unit_id))


@router.patch("/units/{unit_id}")
def update_unit(
    unit_id: str, changes: UnitUpdate, session: DbSession, actor: CurrentActor
) -> UnitRead:
    return _unit(
        service.update_unit(session=session, actor=actor, unit_id=unit_id, changes=changes)
    )


@router.delete("/units/{unit_id}", status_code=NO_CONTENT)
def offboard_unit(unit_id: str, session: DbSession, actor: CurrentActor) -> Response:
    flows.offboard_unit(session=session, actor=actor, unit_id=unit_id)
    return Response(status_code=NO_CONTENT)


@router.post("/units/{unit_id}/mqtt-credentials", status_code=status.HTTP_201_CREATED)
def issue_mqtt_credentials(
    unit_id: str, session: DbSession, actor: CurrentActor
) -> MqttCredentials:
    """A new broker password for the unit's gateway (replacing the old one after the next
    `glonet cloud broker-config`)."""
    password = broker_service.new_password()
    service.set_mqtt_password_hash(
        session=session,
        actor=actor,
        unit_id=unit_id,
        password_hash=broker_service.hash_password(password),
    )
    return MqttCredentials(username=unit_id, password=password)


@router.get("/units/{unit_id}/calendar")
def get_calendar(unit_id: str, session: DbSession, actor: CurrentActor) -> PlantCalendarRead:
    row = service.get_calendar(session=session, actor=actor, unit_id=unit_id)
    return PlantCalendarRead.model_validate(row)


@router.put("/units/{unit_id}/calendar")
def set_calendar(
    unit_id: str, spec: PlantCalendarSet, session: DbSession, actor: CurrentActor
) -> PlantCalendarRead:
    """When the plant works, in its time zone; the plan follows it from the next tick."""
    row = flows.set_calendar(session=session, actor=actor, unit_id=unit_id, spec=spec)
    return PlantCalendarRead.model_validate(row)


@router.delete("/units/{unit_id}/calendar", status_code=NO_CONTENT)
def remove_calendar(unit_id: str, session: DbSession, actor: CurrentActor) -> Response:
    """Forget the calendar: the plant's machines work around the clock again."""
    flows.remove_calendar(session=session, actor=actor, unit_id=unit_id)
    return Response(status_code=NO_CONTENT)


@router.get("/units/{unit_id}/operators")
def list_operators(unit_id: str, session: DbSession, actor: CurrentActor) -> list[OperatorRead]:
    rows = service.list_operators(session=session, actor=actor, unit_id=unit_id)
    return [OperatorRead.model_validate(row) for row in rows]


@router.put("/units/{unit_id}/operators/{operator_id}")
def set_operator(
    unit_id: str, operator_id: str, spec: OperatorSet, session: DbSession, actor: CurrentActor
) -> OperatorRead:
    """An operator's skills and roster; the plan assigns operators from the next tick."""
    row = flows.set_operator(
        session=session, actor=actor, unit_id=unit_id, operator_id=operator_id, spec=spec
    )
    return OperatorRead.model_validate(row)


@router.delete("/units/{unit_id}/operators/{operator_id}", status_code=NO_CONTENT)
def remove_operator(
    unit_id: str, operator_id: str, session: DbSession, actor: CurrentActor
) -> Response:
    flows.remove_operator(session=session, actor=actor, unit_id=unit_id, operator_id=operator_id)
    return Response(status_code=NO_CONTENT)


@router.get("/units/{unit_id}/rates")
def list_rates(unit_id: str, session: DbSession, actor: CurrentActor) -> list[MemberRateRead]:
    """What the member charges per process (the coordinator, or the plant for itself)."""
    rows = service.list_rates(session=session, actor=actor, unit_id=unit_id)
    return [MemberRateRead.model_validate(row) for row in rows]


@router.put("/units/{unit_id}/rates/{process}")
def set_rate(
    unit_id: str, process: ProcessKind, spec: MemberRateSet, session: DbSession, actor: CurrentActor
) -> MemberRateRead:
    """The member's hourly rate and setup cost for one process; quotes price with it from now."""
    row = service.set_rate(
        session=session, actor=actor, unit_id=unit_id, process=process.value, spec=spec
    )
    return MemberRateRead.model_validate(row)


@router.delete("/units/{unit_id}/rates/{process}", status_code=NO_CONTENT)
def remove_rate(
    unit_id: str, process: ProcessKind, session: DbSession, actor: CurrentActor
) -> Response:
    """Forget the process's rate: the member's hourly rate (if any) applies again."""
    service.remove_rate(session=session, actor=actor, unit_id=unit_id, process=process.value)
    return Response(status_code=NO_CONTENT)


@router.post(
    "/units/{unit_id}/machines", status_code=status.HTTP_201_CREATED, responses=answers(409)
)
def add_machine(
    unit_id: str, spec: MachineCreate, session: DbSession, actor: CurrentActor
) -> MachineRead:
    row = service.add_machine(session=session, actor=actor, unit_id=unit_id, spec=spec)
    return MachineRead.model_validate(row)


@router.patch("/machines/{unit_id}/{machine}")
def update_machine(
    unit_id: str, machine: str, changes: MachineStatic, session: DbSession, actor: CurrentActor
) -> MachineRead:
    row = service.update_machine(
        session=session, actor=actor, unit_id=unit_id, machine=machine, changes=changes
    )
    return MachineRead.model_validate(row)


@router.delete("/machines/{unit_id}/{machine}", status_code=NO_CONTENT)
def remove_machine(unit_id: str, machine: str, session: DbSession, actor: CurrentActor) -> Response:
    service.remove_machine(session=session, actor=actor, unit_id=unit_id, machine=machine)
    return Response(status_code=NO_CONTENT)


@router.get("/technicians")
def list_technicians(session: DbSession, actor: CurrentActor) -> list[TechnicianRead]:
    rows = service.list_technicians(session=session, actor=actor)
    return [TechnicianRead.model_validate(row) for row in rows]


@router.post("/technicians", status_code=status.HTTP_201_CREATED, responses=answers(404, 409))
def add_technician(
    spec: TechnicianCreate, session: DbSession, actor: CurrentActor
) -> TechnicianRead:
    row = service.add_technician(session=session, actor=actor, spec=spec)
    return TechnicianRead.model_validate(row)


@router.get("/technicians/{technician_id}")
def get_technician(technician_id: str, session: DbSession, actor: CurrentActor) -> TechnicianRead:
    row = service.get_technician(session=session, actor=actor, technician_id=technician_id)
    return TechnicianRead.model_validate(row)


@router.post("/technicians/{technician_id}/mqtt-credentials", status_code=status.HTTP_201_CREATED)
def issue_technician_mqtt_credentials(
    technician_id: str, session: DbSession, actor: CurrentActor
) -> MqttCredentials:
    """A new broker password for the technician's device (effective after the next
    `glonet cloud broker-config`)."""
    password = broker_service.new_password()
    service.set_technician_mqtt_password_hash(
        session=session,
        actor=actor,
        technician_id=technician_id,
        password_hash=broker_service.hash_password(password),
    )
    return MqttCredentials(
        username=broker_service.technician_user(technician_id), password=password
    )


@router.patch("/technicians/{technician_id}")
def update_technician(
    technician_id: str, changes: TechnicianUpdate, session: DbSession, actor: CurrentActor
) -> TechnicianRead:
    row = service.update_technician(
        session=session, actor=actor, technician_id=technician_id, changes=changes
    )
    return TechnicianRead.model_validate(row)


@router.delete("/technicians/{technician_id}", status_code=NO_CONTENT)
def remove_technician(technician_id: str, session: DbSession, actor: CurrentActor) -> Response:
    service.remove_technician(session=session, actor=actor, technician_id=technician_id)
    return Response(status_code=NO_CONTENT)


@router.put("/transport-times", responses=answers(404))
def set_transport_time(
    spec: TransportTimeSet, session: DbSession, actor: CurrentActor
) -> TransportTimeRead:
    return service.set_transport_time(session=session, actor=actor, spec=spec)


@router.get("/transport-times/{from_unit_id}/{to_unit_id}")
def get_transport_time(
    from_unit_id: str, to_unit_id: str, session: DbSession, actor: CurrentActor
) -> TransportTimeRead:
    return service.transport_time(
        session=session, actor=actor, from_unit_id=from_unit_id, to_unit_id=to_unit_id
    )
