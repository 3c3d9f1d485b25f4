"""Across orders and maintenance: a delivery starts the product's service contract, and a
customer's service request opens (or joins) a ticket on the product's asset."""

from __future__ import annotations

import dataclasses
from datetime import datetime

from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.config import Settings
from cloud.exceptions import Conflict
from cloud.maintenance.assets import AssetInfo, asset_info
from cloud.maintenance.events import LiveEvent
from cloud.maintenance.tickets import flows as ticket_flows
from cloud.maintenance.tickets import service as ticket_service
from cloud.maintenance.tickets.models import Audience, MaintenanceTicket, TicketKind
from cloud.orders import service as orders_service
from cloud.orders.models import DeliveredProduct, Order
from cloud.products import service
from cloud.products.models import (
    FieldAssetSet,
    ProductPage,
    ServiceRequestCreate,
    ServiceRequestRead,
)

SERVICE_REQUEST_SEVERITY = 600
"""A customer's request ranks as a major alarm: the contract's service level moves it."""


def deliver(
    *,
    session: Session,
    actor: Actor,
    order_id: str,
    settings: Settings,
    now: datetime,
    installed_as: FieldAssetSet | None = None,
) -> Order:
    """Hand a completed order over to its customer; its product's service contract starts.
    ``installed_as``: the field asset the product was commissioned as at the site, checked
    before anything changes, so that a wrong one delivers nothing."""
    require_role(actor, Role.COORDINATOR)
    if installed_as is not None:
        _installable(orders_service.get_order(session=session, actor=actor, order_id=order_id))
    product = orders_service.product_of_order(session=session, order_id=order_id)
    if installed_as is not None and product is not None:
        service.field_asset(session=session, serial=product.serial, **installed_as.model_dump())
    order = orders_service.deliver(
        session=session, actor=actor, order_id=order_id, ledger=settings.ledger, now=now
    )
    if product is None:
        return order
    if service.contract_of(session=session, serial=product.serial) is None:
        service.create_contract(
            session=session,
            product=product,
            terms=settings.products.terms(product.family_id),
            starts_at=now,
        )
    if installed_as is not None:
        service.bind_field_asset(session=session, product=product, **installed_as.model_dump())
    return order


def _installable(order: Order) -> None:
    if order.family_id is None:
        raise Conflict(
            f"order {order.id} is a call for tenders' work, with no product to install as a "
            "field asset: deliver it without one"
        )


def request_service(
    session: Session,
    *,
    actor: Actor,
    serial: str,
    spec: ServiceRequestCreate,
    settings: Settings,
    now: datetime,
) -> tuple[MaintenanceTicket, list[LiveEvent]]:
    """A ticket on the product's asset, at its contract's service level; while one is open the
    request joins it as a note the customer reads."""
    require_role(actor, Role.COORDINATOR, Role.CUSTOMER)
    product = orders_service.get_product(session=session, actor=actor, serial=serial)
    contract = service.contract_of(session=session, serial=serial)
    if contract is None:
        raise Conflict(f"product {serial} has no service contract yet (it starts on delivery)")
    if not contract.starts_at <= now < contract.ends_at:
        raise Conflict(
            f"the service contract of {serial} runs from {contract.starts_at:%Y-%m-%d} "
            f"to {contract.ends_at:%Y-%m-%d}"
        )
    unit_id, asset = service.ticket_asset(product=product, settings=settings.products)
    label = ticket_service.actor_label(actor)
    joined = ticket_service.open_ticket_for(session=session, unit_id=unit_id, asset=asset)
    if joined is not None:
        detail = f"service request: {spec.title}" + (
            f" — {spec.description}" if spec.description else ""
        )
        ticket_service.record(
            session=session,
            ticket=joined,
            at=now,
            actor=label,
            kind="note",
            detail=detail,
            audience=Audience.CUSTOMER,
        )
        return joined, []
    policy = settings.maintenance.policy()
    return ticket_flows.open_ticket(
        session,
        info=_asset(session, product, unit_id, asset, contract.service_level),
        kind=TicketKind.CORRECTIVE,
        title=spec.title,
        description=spec.description,
        severity=SERVICE_REQUEST_SEVERITY,
        skill=policy.default_skill,
        now=now,
        actor=label,
        opened_by=f"service request for {serial}",
        policy=policy,
    )


def _asset(
    session: Session, product: DeliveredProduct, unit_id: str, asset: str, level: str
) -> AssetInfo:
    info = asset_info(session=session, unit_id=unit_id, asset=asset)
    return dataclasses.replace(
        info,
        asset_kind="product",
        model=info.model or product.family_id,
        customer_id=product.customer_id,
        service_level=level,
    )


def product_page(*, session: Session, actor: Actor, serial: str, now: datetime) -> ProductPage:
    """Everything the product's page shows, for its customer or the coordinator."""
    product = orders_service.get_product(session=session, actor=actor, serial=serial)
    contract = service.contract_of(session=session, serial=serial)
    return ProductPage(
        serial=product.serial,
        order_id=product.order_id,
        customer_id=product.customer_id,
        family_id=product.family_id,
        configuration=product.configuration,
        registered_at=product.registered_at,
        delivered_at=service.delivered_at(session=session, product=product),
        as_built=service.as_built(product),
        contract=None if contract is None else service.read_contract(contract, now),
        live=service.live(session=session, product=product),
        service_requests=_requests(session, product),
    )


def service_requests(*, session: Session, actor: Actor, serial: str) -> list[ServiceRequestRead]:
    """The tickets on the product as its customer follows them."""
    product = orders_service.get_product(session=session, actor=actor, serial=serial)
    return _requests(session, product)


def _requests(session: Session, product: DeliveredProduct) -> list[ServiceRequestRead]:
    contract = service.contract_of(session=session, serial=product.serial)
    return [
        service.read_request(
            session=session, ticket=ticket, serial=product.serial, contract=contract
        )
        for ticket in service.product_tickets(session=session, product=product)
    ]
