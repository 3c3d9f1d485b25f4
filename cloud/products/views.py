"""A delivered product's page data, its service contract, its field asset, and its customer's
service requests; the coordinator's list of missed service-level times."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, status

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.database import utcnow
from cloud.exceptions import NotFound
from cloud.maintenance.events import broadcast
from cloud.operations.http import ApiRoute, answers
from cloud.orders import service as orders_service
from cloud.orders.models import ProductRead
from cloud.products import flows, service
from cloud.products.models import (
    ContractRead,
    ContractUpdate,
    FieldAssetSet,
    OverdueTicket,
    ProductPage,
    ServiceRequestCreate,
    ServiceRequestRead,
)

router = APIRouter(prefix="/api", tags=["products"], route_class=ApiRoute)
Serial = Annotated[str, Path(max_length=64)]


@router.get("/products/{serial}/page")
def product_page(serial: Serial, session: DbSession, actor: CurrentActor) -> ProductPage:
    """The product as its page shows it: as built, live state, contract, service requests."""
    return flows.product_page(session=session, actor=actor, serial=serial, now=utcnow())


@router.get("/products/{serial}/contract")
def get_contract(serial: Serial, session: DbSession, actor: CurrentActor) -> ContractRead:
    orders_service.get_product(session=session, actor=actor, serial=serial)
    contract = service.contract_of(session=session, serial=serial)
    if contract is None:
        raise NotFound(f"product {serial} has no service contract (it starts on delivery)")
    return service.read_contract(contract, utcnow())


@router.patch("/products/{serial}/contract")
def update_contract(
    serial: Serial,
    spec: ContractUpdate,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
) -> ContractRead:
    """The coordinator changes a contract's start, end, service level or response time."""
    levels = request.app.state.context.settings.maintenance.service_levels
    now = utcnow()
    contract = service.update_contract(
        session=session, actor=actor, serial=serial, spec=spec, service_levels=levels, now=now
    )
    return service.read_contract(contract, now)


@router.put("/products/{serial}/field-asset", responses=answers(409))
def set_field_asset(
    serial: Serial, spec: FieldAssetSet, session: DbSession, actor: CurrentActor
) -> ProductRead:
    """Link the product to the asset its field gateway reports it as (coordinator); 409 when
    another product is installed as that asset."""
    product = service.set_field_asset(
        session=session, actor=actor, serial=serial, unit_id=spec.unit_id, asset=spec.asset
    )
    return ProductRead.model_validate(product)


@router.get("/products/{serial}/service-requests")
def list_service_requests(
    serial: Serial, session: DbSession, actor: CurrentActor
) -> list[ServiceRequestRead]:
    return flows.service_requests(session=session, actor=actor, serial=serial)


@router.post(
    "/products/{serial}/service-requests",
    status_code=status.HTTP_201_CREATED,
    responses=answers(409),
)
def request_service(
    serial: Serial,
    spec: ServiceRequestCreate,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
) -> ServiceRequestRead:
    """Open a ticket on the product's asset (or add to the one open on it)."""
    now = utcnow()
    ticket, events = flows.request_service(
        session,
        actor=actor,
        serial=serial,
        spec=spec,
        settings=request.app.state.context.settings,
        now=now,
    )
    session.commit()
    broadcast(request, events)
    return service.read_request(
        session=session,
        ticket=ticket,
        serial=serial,
        contract=service.contract_of(session=session, serial=serial),
    )


@router.get("/service-levels/overdue")
def overdue(session: DbSession, actor: CurrentActor) -> list[OverdueTicket]:
    """Tickets on delivered products past their contract's response or resolution time."""
    return service.overdue(session=session, actor=actor, now=utcnow())
