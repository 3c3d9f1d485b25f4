"""Setting a coordinator up from outside its API: the first keys, a network's starting registry,
the broker's files.

The API needs a key, and the first key can only come from the coordinator's own side; a new
network's broker needs its password and ACL files before the coordinator can connect. These
functions are that side (``glonet cloud create-key``, ``glonet cloud broker-config``,
``glonet demo``): each opens the database of ``settings``, migrates it, and acts as the network
coordinator. Everything after them goes through the API.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session, sessionmaker

from cloud.auth import people
from cloud.auth import service as auth_service
from cloud.auth.models import Actor, PersonCreate, PrincipalCreate, Role
from cloud.brokerconfig import flows as broker_flows
from cloud.brokerconfig import service as broker_service
from cloud.brokerconfig.service import BrokerFiles, Listener
from cloud.config import Settings
from cloud.database import make_engine, make_session_factory, migrate, transaction, utcnow
from cloud.exceptions import NotFound
from cloud.registry import service as registry_service
from cloud.registry.models import (
    MachineCreate,
    MachineStatic,
    OperatorSet,
    PlantCalendarSet,
    TechnicianCreate,
    UnitCreate,
)
from cloud.suppliers import service as supplier_service
from cloud.suppliers.models import SupplierCreate

SYSTEM = Actor(principal_id=0, name="bootstrap", role=Role.COORDINATOR)


class NetworkSetup(BaseModel):
    """What a network starts with. Units and technicians already known are kept as they are
    (a known unit without a country takes the setup's); calendars and operators are set; a
    known machine's static data is merged."""

    model_config = ConfigDict(extra="forbid")

    units: list[UnitCreate] = Field(default_factory=list)
    calendars: dict[str, PlantCalendarSet] = Field(default_factory=dict, description="by unit")
    operators: dict[str, dict[str, OperatorSet]] = Field(
        default_factory=dict, description="by unit, then by operator id"
    )
    machines: dict[str, list[MachineCreate]] = Field(default_factory=dict, description="by unit")
    technicians: list[TechnicianCreate] = Field(default_factory=list)
    suppliers: list[SupplierCreate] = Field(
        default_factory=list, description="suppliers and their offers (known ones are kept)"
    )
    principals: list[PrincipalCreate] = Field(
        default_factory=list, description="API keys to create, named uniquely"
    )
    people: list[PersonCreate] = Field(
        default_factory=list, description="people to invite, each with a fresh password set"
    )
    broker_logins: bool = Field(
        default=False, description="give every unit and technician a fresh broker password"
    )


@dataclass(frozen=True)
class NetworkCredentials:
    """The secrets :func:`bootstrap_network` made, the only time they exist in clear."""

    api_keys: dict[str, str] = field(default_factory=dict)  # by principal name
    passwords: dict[str, str] = field(default_factory=dict)  # by username
    unit_broker_passwords: dict[str, str] = field(default_factory=dict)  # by unit id
    technician_broker_passwords: dict[str, str] = field(default_factory=dict)  # by technician


@contextmanager
def _database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    """The coordinator's database, migrated, with its network's row."""
    engine = make_engine(settings.resolved_database_url)
    try:
        migrate(engine)
        factory = make_session_factory(engine)
        with transaction(factory) as session:
            registry_service.ensure_network(session=session, network_id=settings.network)
        yield factory
    finally:
        engine.dispose()


def bootstrap_network(settings: Settings, setup: NetworkSetup) -> NetworkCredentials:
    """Apply ``setup`` to ``settings.network`` in one transaction (people each in their own,
    as the invitation pages do); return the keys and passwords it made."""
    with _database(settings) as factory:
        with transaction(factory) as session:
            _registry(session, settings.network, setup)
            api_keys = {
                spec.name: auth_service.create_principal(session=session, spec=spec)[1]
                for spec in setup.principals
            }
            units, technicians = _broker_logins(session, setup) if setup.broker_logins else ({}, {})
        passwords = {spec.username: _person(factory, settings, spec) for spec in setup.people}
    return NetworkCredentials(api_keys, passwords, units, technicians)


def _registry(session: Session, network: str, setup: NetworkSetup) -> None:
    known = {u.id: u for u in registry_service.network_units(session=session, network_id=network)}
    for unit in setup.units:
        row = known.get(unit.id)
        if row is None:
            registry_service.onboard_unit(session=session, actor=SYSTEM, spec=unit)
        elif row.country is None and unit.country is not None:
            # Registered before units had a country: the setup says where it is.
            row.country = unit.country
    for unit_id, calendar in setup.calendars.items():
        registry_service.set_calendar(session=session, actor=SYSTEM, unit_id=unit_id, spec=calendar)
    for unit_id, operators in setup.operators.items():
        for operator_id, operator in operators.items():
            registry_service.set_operator(
                session=session,
                actor=SYSTEM,
                unit_id=unit_id,
                operator_id=operator_id,
                spec=operator,
            )
    for unit_id, machines in setup.machines.items():
        for machine in machines:
            _machine(session, unit_id, machine)
    technicians = {t.id for t in registry_service.list_technicians(session=session, actor=SYSTEM)}
    for technician in setup.technicians:
        if technician.id not in technicians:
            registry_service.add_technician(session=session, actor=SYSTEM, spec=technician)
    suppliers = supplier_service.list_suppliers(session=session, actor=SYSTEM, network_id=network)
    known_suppliers = {supplier.id for supplier in suppliers}
    for supplier in setup.suppliers:
        if supplier.id not in known_suppliers:
            supplier_service.create_supplier(
                session=session, actor=SYSTEM, network_id=network, spec=supplier
            )


def _machine(session: Session, unit_id: str, spec: MachineCreate) -> None:
    """Register a machine before or after its gateway announces it."""
    try:
        row = registry_service.get_machine(
            session=session, actor=SYSTEM, unit_id=unit_id, machine=spec.machine
        )
    except NotFound:
        registry_service.add_machine(session=session, actor=SYSTEM, unit_id=unit_id, spec=spec)
        return
    registry_service.update_machine(
        session=session,
        actor=SYSTEM,
        unit_id=unit_id,
        machine=spec.machine,
        changes=MachineStatic(static_data={**row.static_data, **spec.static_data}),
    )


def _broker_logins(session: Session, setup: NetworkSetup) -> tuple[dict[str, str], dict[str, str]]:
    units: dict[str, str] = {}
    for unit in setup.units:
        units[unit.id] = broker_service.new_password()
        registry_service.set_mqtt_password_hash(
            session=session,
            actor=SYSTEM,
            unit_id=unit.id,
            password_hash=broker_service.hash_password(units[unit.id]),
        )
    technicians: dict[str, str] = {}
    for technician in setup.technicians:
        technicians[technician.id] = broker_service.new_password()
        registry_service.set_technician_mqtt_password_hash(
            session=session,
            actor=SYSTEM,
            technician_id=technician.id,
            password_hash=broker_service.hash_password(technicians[technician.id]),
        )
    return units, technicians


def _person(factory: sessionmaker[Session], settings: Settings, spec: PersonCreate) -> str:
    """Invite the person and set a fresh random password through their invitation, as they
    would on the invitation page."""
    password = secrets.token_urlsafe(12)
    now = utcnow()
    with transaction(factory) as session:
        issued = people.invite_person(
            session=session, actor=SYSTEM, spec=spec, settings=settings.accounts, now=now
        )
        people.accept_invitation(session=session, token=issued.token, password=password, now=now)
    return password


def create_key(settings: Settings, spec: PrincipalCreate) -> tuple[int, str]:
    """A new principal: its id and its API key (the first coordinator key comes from here)."""
    with _database(settings) as factory, transaction(factory) as session:
        principal, api_key = auth_service.create_principal(session=session, spec=spec)
        return principal.id, api_key


def write_broker_files(
    settings: Settings,
    out_dir: Path,
    *,
    members: Listener = broker_flows.MEMBERS_LISTENER,
    coordinator: Listener | None = None,
) -> BrokerFiles:
    """The broker's listeners, password and ACL files from the registry
    (:func:`cloud.brokerconfig.flows.generate`)."""
    with _database(settings) as factory, transaction(factory) as session:
        return broker_flows.generate(
            session=session,
            settings=settings,
            out_dir=out_dir,
            members=members,
            coordinator=coordinator,
        )
