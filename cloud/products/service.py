"""Delivered products as assets: their service contracts, the field asset that reports them,
their live state, and the tickets on them as their customer follows them.

Every read starts from :func:`cloud.orders.service.get_product`, which scopes by role: a
customer its own products only (another's answers 404), the coordinator all of them.
"""

from __future__ import annotations

import calendar
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.config import ContractTerms, ProductSettings
from cloud.exceptions import Conflict, InvalidInput
from cloud.maintenance.tickets import service as ticket_service
from cloud.maintenance.tickets.models import (
    OPEN_STATUSES,
    Audience,
    MaintenanceTicket,
    TicketStatus,
)
from cloud.maintenance.visits.models import RouteStop
from cloud.network import service as network_service
from cloud.orders import service as orders_service
from cloud.orders.models import DeliveredProduct, Order
from cloud.products.models import (
    AsBuiltStep,
    ContractRead,
    ContractUpdate,
    CustomerUpdate,
    MetricValue,
    OverdueTicket,
    ProductLive,
    ServiceContract,
    ServiceRequestRead,
)
from cloud.registry.models import Machine

_LOGGER = logging.getLogger(__name__)
PRODUCT_READER = Actor(principal_id=0, name="product page", role=Role.COORDINATOR)
"""Reads a product's field asset once the caller's access to the product was checked (a
customer may not read the registry's machines, but may read its own product's state)."""


# Contracts ------------------------------------------------------------------------------------


def add_months(start: datetime, months: int) -> datetime:
    """``start`` moved on by whole calendar months (the 31st becomes the month's last day)."""
    month = start.month - 1 + months
    year, month = start.year + month // 12, month % 12 + 1
    day = min(start.day, calendar.monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day)


def create_contract(
    *, session: Session, product: DeliveredProduct, terms: ContractTerms, starts_at: datetime
) -> ServiceContract:
    """The product's contract from its family's (or the network's) default terms."""
    contract = ServiceContract(
        serial=product.serial,
        starts_at=starts_at,
        ends_at=add_months(starts_at, terms.months),
        service_level=terms.service_level,
        response_hours=terms.response_hours,
        updated_at=starts_at,
        updated_by="system",
    )
    session.add(contract)
    session.flush()
    _label_field_asset(session, product, contract)
    _LOGGER.info("service contract for %s until %s", product.serial, contract.ends_at)
    return contract


def contract_of(*, session: Session, serial: str) -> ServiceContract | None:
    return session.get(ServiceContract, serial)


def read_contract(contract: ServiceContract, now: datetime) -> ContractRead:
    read = ContractRead.model_validate(contract)
    read.active = contract.starts_at <= now < contract.ends_at
    return read


def update_contract(
    *,
    session: Session,
    actor: Actor,
    serial: str,
    spec: ContractUpdate,
    service_levels: Sequence[str],
    now: datetime,
) -> ServiceContract:
    """The coordinator changes a contract's terms (a product without one gets one)."""
    require_role(actor, Role.COORDINATOR)
    product = orders_service.get_product(session=session, actor=actor, serial=serial)
    if spec.service_level is not None and spec.service_level not in service_levels:
        known = ", ".join(sorted(service_levels))
        raise InvalidInput(f"service_level {spec.service_level!r} is not one of {known}")
    contract = contract_of(session=session, serial=serial)
    if contract is None:
        contract = create_contract(
            session=session, product=product, terms=ContractTerms(), starts_at=now
        )
    changes = spec.model_dump(exclude_none=True)
    starts_at = changes.get("starts_at", contract.starts_at)
    ends_at = changes.get("ends_at", contract.ends_at)
    if ends_at <= starts_at:
        raise InvalidInput("ends_at must be after starts_at")
    for name, value in changes.items():
        setattr(contract, name, value)
    contract.updated_at = now
    contract.updated_by = ticket_service.actor_label(actor)
    _label_field_asset(session, product, contract)
    return contract


# The product's asset --------------------------------------------------------------------------


def set_field_asset(
    *, session: Session, actor: Actor, serial: str, unit_id: str, asset: str
) -> DeliveredProduct:
    """Link the product to the registry asset its field gateway reports it as; the asset is
    labelled with the product's customer and service level, so that its alarms' tickets are
    the customer's too."""
    require_role(actor, Role.COORDINATOR)
    product = orders_service.get_product(session=session, actor=actor, serial=serial)
    bind_field_asset(session=session, product=product, unit_id=unit_id, asset=asset)
    return product


def field_asset(*, session: Session, unit_id: str, asset: str, serial: str) -> Machine:
    """The field product ``unit_id``/``asset`` as the registry knows it from its gateway's
    birth, if it may stand for product ``serial``: it is a product (not a plant's machine) and
    no other delivered product is installed as it."""
    machine = _machine(session, unit_id, asset)
    if machine is None:
        raise InvalidInput(f"unit {unit_id!r} has no asset {asset!r}")
    if machine.asset_kind != "product":
        raise InvalidInput(f"{unit_id}/{asset} is a plant's machine, not a field product")
    other = session.scalars(
        select(DeliveredProduct.serial).where(
            DeliveredProduct.field_unit_id == unit_id,
            DeliveredProduct.field_asset == asset,
            DeliveredProduct.serial != serial,
        )
    ).first()
    if other is not None:
        raise Conflict(f"{unit_id}/{asset} is already the field asset of product {other}")
    return machine


def bind_field_asset(
    *, session: Session, product: DeliveredProduct, unit_id: str, asset: str
) -> None:
    """Install ``product`` as the field asset (checked by :func:`field_asset`), and label the
    asset with the product's contract if it has one."""
    field_asset(session=session, unit_id=unit_id, asset=asset, serial=product.serial)
    product.field_unit_id, product.field_asset = unit_id, asset
    contract = contract_of(session=session, serial=product.serial)
    if contract is not None:
        _label_field_asset(session, product, contract)
    _LOGGER.info("product %s is reported as %s/%s", product.serial, unit_id, asset)


def _machine(session: Session, unit_id: str, asset: str) -> Machine | None:
    query = select(Machine).where(Machine.unit_id == unit_id, Machine.machine == asset)
    return session.scalars(query).first()


def _label_field_asset(
    session: Session, product: DeliveredProduct, contract: ServiceContract
) -> None:
    if product.field_unit_id is None or product.field_asset is None:
        return
    machine = _machine(session, product.field_unit_id, product.field_asset)
    if machine is not None:
        labels = {"customer": product.customer_id, "service_level": contract.service_level}
        machine.static_data = {**machine.static_data, **labels}


def ticket_asset(*, product: DeliveredProduct, settings: ProductSettings) -> tuple[str, str]:
    """The (unit, asset) a ticket on the product is opened on: its field asset, or else the
    product itself (by serial) at the unit that services it."""
    if product.field_unit_id and product.field_asset:
        return product.field_unit_id, product.field_asset
    unit = settings.service_unit or next(
        (step["unit_id"] for step in reversed(product.as_built) if step.get("unit_id")), None
    )
    if unit is None:
        raise InvalidInput(f"no unit services product {product.serial}")
    return unit, product.serial


def has_field_asset(*, session: Session, unit_id: str, asset: str) -> bool:
    return _machine(session, unit_id, asset) is not None


# Reads ----------------------------------------------------------------------------------------


def as_built(product: DeliveredProduct) -> list[AsBuiltStep]:
    """Which plant and machine did each step, and when (the machine's own times if given)."""
    return [
        AsBuiltStep(
            step=step["step"],
            name=step.get("name") or step["step"],
            process=step.get("process", ""),
            unit_id=step.get("unit_id"),
            machine=step.get("machine"),
            started_at=step.get("machine_actual_start") or step.get("started_at"),
            ended_at=step.get("machine_actual_end") or step.get("ended_at"),
            attempts=int(step.get("attempts") or 0),
        )
        for step in product.as_built
    ]


def delivered_at(*, session: Session, product: DeliveredProduct) -> datetime | None:
    order = session.get(Order, product.order_id)
    return order.delivered_at if order is not None else None


def live(*, session: Session, product: DeliveredProduct) -> ProductLive:
    """The field asset's state, its latest values with their units, and whether its gateway
    is online; ``reporting`` false when no field gateway reports the product."""
    if product.field_unit_id is None or product.field_asset is None:
        return ProductLive(reporting=False)
    unit_id, asset = product.field_unit_id, product.field_asset
    found = network_service.machines_live(
        session=session, actor=PRODUCT_READER, unit_id=unit_id, machine=asset
    )
    machine = _machine(session, unit_id, asset)
    if not found or machine is None:
        return ProductLive(reporting=False, unit_id=unit_id, asset=asset)
    state = found[0]
    units = {m.get("name"): m.get("unit", "") for m in machine.metrics}
    metrics = [
        MetricValue(metric=name, value=_value(value), unit=str(units.get(name) or ""))
        for name, value in sorted(state.latest_metrics.items())
    ]
    return ProductLive(
        reporting=bool(metrics) or state.reported_at is not None,
        unit_id=unit_id,
        asset=asset,
        online=state.online,
        state=state.state,
        mode=state.mode,
        reported_at=state.reported_at,
        active_alarms=state.active_alarms,
        metrics=metrics,
    )


def _value(value: Any) -> float | str | None:
    if value is None or (isinstance(value, (int, float)) and not isinstance(value, bool)):
        return value
    return str(value)


def product_tickets(
    *, session: Session, product: DeliveredProduct, statuses: Sequence[TicketStatus] = ()
) -> list[MaintenanceTicket]:
    """Tickets on the product: on its serial (a request before any field asset), or on its
    field asset."""
    on_product = MaintenanceTicket.asset == product.serial
    if product.field_unit_id and product.field_asset:
        on_product = or_(
            on_product,
            (MaintenanceTicket.unit_id == product.field_unit_id)
            & (MaintenanceTicket.asset == product.field_asset),
        )
    query = select(MaintenanceTicket).where(on_product)
    if statuses:
        query = query.where(MaintenanceTicket.status.in_(statuses))
    return list(session.scalars(query.order_by(MaintenanceTicket.id.desc())))


def read_request(
    *,
    session: Session,
    ticket: MaintenanceTicket,
    serial: str | None,
    contract: ServiceContract | None,
) -> ServiceRequestRead:
    """A ticket as its customer follows it: status, the technician's visit, the resolution, and
    only the timeline's lines meant for the customer."""
    updates = [
        CustomerUpdate(at=entry.at, kind=entry.kind, detail=entry.detail)
        for entry in ticket_service.timeline(session=session, ticket_id=ticket.id)
        if entry.audience == Audience.CUSTOMER
    ]
    resolution = next((u.detail for u in reversed(updates) if u.kind == "resolved"), None)
    stop = session.get(RouteStop, ticket.id)
    planned = stop.arrive_at if stop is not None and stop.unplanned is None else None
    return ServiceRequestRead(
        id=ticket.id,
        serial=serial,
        title=ticket.title,
        description=ticket.description,
        status=ticket.status,
        priority=ticket.priority,
        opened_at=ticket.opened_at,
        response_due_at=response_due(ticket, contract),
        due_at=ticket.due_at,
        acknowledged_at=ticket.acknowledged_at,
        visit_planned_at=None if ticket.started_at else planned,
        visit_started_at=ticket.started_at,
        resolved_at=ticket.resolved_at,
        resolution=resolution or None,
        updates=updates,
    )


def response_due(ticket: MaintenanceTicket, contract: ServiceContract | None) -> datetime | None:
    if contract is None:
        return None
    return ticket.opened_at + timedelta(hours=contract.response_hours)


# Service-level times --------------------------------------------------------------------------


def overdue(*, session: Session, actor: Actor, now: datetime) -> list[OverdueTicket]:
    """Open tickets on delivered products whose contract's response time passed without a
    technician's answer, or whose resolution is past due; the longest overdue first."""
    require_role(actor, Role.COORDINATOR)
    products = session.execute(
        select(DeliveredProduct, ServiceContract).join(
            ServiceContract, ServiceContract.serial == DeliveredProduct.serial
        )
    ).all()
    by_asset: dict[tuple[str | None, str], tuple[DeliveredProduct, ServiceContract]] = {}
    for product, contract in products:
        by_asset[(None, product.serial)] = (product, contract)
        if product.field_unit_id and product.field_asset:
            by_asset[(product.field_unit_id, product.field_asset)] = (product, contract)
    if not by_asset:
        return []
    assets = sorted({asset for _, asset in by_asset})
    tickets = session.scalars(
        select(MaintenanceTicket).where(
            MaintenanceTicket.status.in_(OPEN_STATUSES), MaintenanceTicket.asset.in_(assets)
        )
    )
    late = []
    for ticket in tickets:
        found = by_asset.get((ticket.unit_id, ticket.asset)) or by_asset.get((None, ticket.asset))
        if found is None:
            continue
        product, contract = found
        missed = missed_time(ticket, contract, now)
        if missed is not None:
            what, due = missed
            late.append(
                OverdueTicket(
                    ticket_id=ticket.id,
                    serial=product.serial,
                    customer_id=product.customer_id,
                    title=ticket.title,
                    status=ticket.status,
                    missed=what,
                    due_at=due,
                    overdue_minutes=round((now - due).total_seconds() / 60, 1),
                )
            )
    return sorted(late, key=lambda row: row.due_at)


def missed_time(
    ticket: MaintenanceTicket, contract: ServiceContract, now: datetime
) -> tuple[str, datetime] | None:
    """("response", when it was due) while nobody answered past the contract's response time;
    ("resolution", its due time) once the ticket is past due unresolved; else None."""
    if ticket.status not in OPEN_STATUSES:
        return None
    respond_by = ticket.opened_at + timedelta(hours=contract.response_hours)
    if ticket.acknowledged_at is None and now > respond_by:
        return "response", respond_by
    if now > ticket.due_at:
        return "resolution", ticket.due_at
    return None


def overdue_by_ticket(
    *, session: Session, actor: Actor, now: datetime
) -> Mapping[int, OverdueTicket]:
    """:func:`overdue` by ticket id, for the maintenance board."""
    return {row.ticket_id: row for row in overdue(session=session, actor=actor, now=now)}
