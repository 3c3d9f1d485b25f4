"""Supplier registry, material matching and purchase endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.codesign.families import Slug
from cloud.database import utcnow
from cloud.operations.http import ApiRoute, answers
from cloud.registry.models import Identifier
from cloud.suppliers import flows, service
from cloud.suppliers.models import (
    DelayRecord,
    DeliveryRecord,
    MatchedLineRead,
    MatchRequest,
    OfferRead,
    OfferSet,
    PurchaseRead,
    SupplierCreate,
    SupplierRead,
    SupplierUpdate,
)

router = APIRouter(prefix="/api", tags=["suppliers"], route_class=ApiRoute)
NO_CONTENT = status.HTTP_204_NO_CONTENT


def _network(request: Request) -> str:
    return str(request.app.state.context.settings.network)


@router.get("/suppliers")
def list_suppliers(request: Request, session: DbSession, actor: CurrentActor) -> list[SupplierRead]:
    rows = service.list_suppliers(session=session, actor=actor, network_id=_network(request))
    return service.read_suppliers(session=session, rows=rows)


@router.post("/suppliers", status_code=status.HTTP_201_CREATED, responses=answers(409))
def create_supplier(
    spec: SupplierCreate, request: Request, session: DbSession, actor: CurrentActor
) -> SupplierRead:
    row = service.create_supplier(
        session=session, actor=actor, network_id=_network(request), spec=spec
    )
    return service.read_suppliers(session=session, rows=[row])[0]


@router.get("/suppliers/{supplier_id}")
def get_supplier(supplier_id: str, session: DbSession, actor: CurrentActor) -> SupplierRead:
    row = service.get_supplier(session=session, actor=actor, supplier_id=supplier_id)
    return service.read_suppliers(session=session, rows=[row])[0]


@router.patch("/suppliers/{supplier_id}")
def update_supplier(
    supplier_id: str, changes: SupplierUpdate, session: DbSession, actor: CurrentActor
) -> SupplierRead:
    row = service.update_supplier(
        session=session, actor=actor, supplier_id=supplier_id, changes=changes
    )
    return service.read_suppliers(session=session, rows=[row])[0]


@router.delete("/suppliers/{supplier_id}", status_code=NO_CONTENT, responses=answers(409))
def delete_supplier(supplier_id: str, session: DbSession, actor: CurrentActor) -> Response:
    service.delete_supplier(session=session, actor=actor, supplier_id=supplier_id)
    return Response(status_code=NO_CONTENT)


@router.put("/suppliers/{supplier_id}/offers/{item}")
def set_offer(
    supplier_id: Identifier, item: Slug, spec: OfferSet, session: DbSession, actor: CurrentActor
) -> OfferRead:
    row = service.set_offer(
        session=session, actor=actor, supplier_id=supplier_id, item=item, spec=spec
    )
    return OfferRead.model_validate(row)


@router.delete("/suppliers/{supplier_id}/offers/{item}", status_code=NO_CONTENT)
def remove_offer(supplier_id: str, item: str, session: DbSession, actor: CurrentActor) -> Response:
    service.remove_offer(session=session, actor=actor, supplier_id=supplier_id, item=item)
    return Response(status_code=NO_CONTENT)


@router.post("/suppliers/match")
def match_materials(
    spec: MatchRequest, request: Request, session: DbSession, actor: CurrentActor
) -> list[MatchedLineRead]:
    """Each material line's supplier: the cheapest, local ones first under a local rule; the
    reasons in words when none offers it."""
    lines = flows.match(session=session, actor=actor, network_id=_network(request), spec=spec)
    return [MatchedLineRead.model_validate(line.to_json()) for line in lines]


@router.get("/purchases")
def list_purchases(
    session: DbSession, actor: CurrentActor, order_id: str | None = None
) -> list[PurchaseRead]:
    rows = service.list_purchases(session=session, actor=actor, order_id=order_id)
    return [service.read_purchase(row, actor) for row in rows]


@router.get("/purchases/{purchase_id}")
def get_purchase(purchase_id: str, session: DbSession, actor: CurrentActor) -> PurchaseRead:
    row = service.get_purchase(session=session, actor=actor, purchase_id=purchase_id)
    return service.read_purchase(row, actor)


@router.post("/purchases/{purchase_id}/delivery", responses=answers(409))
def record_delivery(
    purchase_id: str,
    spec: DeliveryRecord,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
) -> PurchaseRead:
    """The material has arrived (once: a second record answers 409); the plan is made again."""
    row = flows.record_delivery(
        session=session,
        actor=actor,
        network_id=_network(request),
        purchase_id=purchase_id,
        spec=spec,
        now=utcnow(),
    )
    return service.read_purchase(row, actor)


@router.post("/purchases/{purchase_id}/delay", responses=answers(409))
def record_delay(
    purchase_id: str,
    spec: DelayRecord,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
) -> PurchaseRead:
    """The supplier's new delivery date: the operations needing the material wait for it."""
    row = flows.record_delay(
        session=session,
        actor=actor,
        network_id=_network(request),
        purchase_id=purchase_id,
        spec=spec,
        now=utcnow(),
    )
    return service.read_purchase(row, actor)
