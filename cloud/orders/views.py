"""Quote, order and delivered-product endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.codesign.views import FamilyRegistry
from cloud.database import utcnow
from cloud.operations.http import ApiRoute, answers
from cloud.orders import flows, service
from cloud.orders.models import (
    OrderRead,
    ProductRead,
    QuoteBreakdown,
    QuoteCreate,
    QuoteRead,
    QuoteStatus,
)
from cloud.products import flows as product_flows
from cloud.products.models import Delivery

router = APIRouter(prefix="/api", tags=["orders"], route_class=ApiRoute)


@router.post("/quotes", status_code=status.HTTP_201_CREATED, responses=answers(404))
def create_quote(
    spec: QuoteCreate,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
    families: FamilyRegistry,
) -> QuoteRead:
    settings = request.app.state.context.settings
    quote = flows.create_quote(
        session=session,
        actor=actor,
        families=families,
        settings=settings.orders,
        network_id=settings.network,
        spec=spec,
        now=utcnow(),
    )
    return flows.read_quote(actor=actor, quote=quote)


@router.get("/quotes")
def list_quotes(session: DbSession, actor: CurrentActor) -> list[QuoteRead]:
    quotes = service.list_quotes(session=session, actor=actor)
    return [flows.read_quote(actor=actor, quote=quote) for quote in quotes]


@router.get("/quotes/{quote_id}")
def get_quote(quote_id: str, session: DbSession, actor: CurrentActor) -> QuoteRead:
    quote = service.get_quote(session=session, actor=actor, quote_id=quote_id)
    return flows.read_quote(actor=actor, quote=quote)


@router.get("/quotes/{quote_id}/breakdown")
def get_quote_breakdown(quote_id: str, session: DbSession, actor: CurrentActor) -> QuoteBreakdown:
    """The quote's price as the caller may see it: a customer the total and its options, a
    member its own lines, the coordinator every line, the margin and the pricing basis."""
    return flows.breakdown(session=session, actor=actor, quote_id=quote_id)


@router.post("/quotes/{quote_id}/refuse", responses=answers(409))
def refuse_quote(
    quote_id: str, request: Request, session: DbSession, actor: CurrentActor
) -> QuoteRead:
    """The customer (or a coordinator for them) turns the quote down: its held time is freed."""
    return _release(quote_id, request, session, actor, QuoteStatus.REFUSED)


@router.post("/quotes/{quote_id}/withdraw", responses=answers(409))
def withdraw_quote(
    quote_id: str, request: Request, session: DbSession, actor: CurrentActor
) -> QuoteRead:
    """The network (a coordinator) withdraws the quote: its held time is freed."""
    return _release(quote_id, request, session, actor, QuoteStatus.WITHDRAWN)


def _release(
    quote_id: str, request: Request, session: DbSession, actor: CurrentActor, status: QuoteStatus
) -> QuoteRead:
    quote = flows.release_quote(
        session=session,
        actor=actor,
        network_id=request.app.state.context.settings.network,
        quote_id=quote_id,
        status=status,
        now=utcnow(),
    )
    return flows.read_quote(actor=actor, quote=quote)


@router.post(
    "/quotes/{quote_id}/confirm", status_code=status.HTTP_201_CREATED, responses=answers(409)
)
def confirm_quote(
    quote_id: str, request: Request, session: DbSession, actor: CurrentActor
) -> OrderRead:
    settings = request.app.state.context.settings
    order = flows.confirm_quote(
        session=session,
        actor=actor,
        network_id=settings.network,
        quote_id=quote_id,
        now=utcnow(),
        time_scale=settings.orders.time_scale,
    )
    return service.read_order(session=session, order=order)


@router.get("/orders")
def list_orders(session: DbSession, actor: CurrentActor) -> list[OrderRead]:
    return [
        service.read_order(session=session, order=order)
        for order in service.list_orders(session=session, actor=actor)
    ]


@router.get("/orders/{order_id}")
def get_order(order_id: str, session: DbSession, actor: CurrentActor) -> OrderRead:
    order = service.get_order(session=session, actor=actor, order_id=order_id)
    return service.read_order(session=session, order=order)


@router.post("/orders/{order_id}/deliver", responses=answers(409))
def deliver_order(
    order_id: str,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
    delivery: Delivery | None = None,
) -> OrderRead:
    """Hand a completed order over; its product's service contract starts now. With
    ``field_asset``, the product was installed as that asset of the site's field gateway,
    whose live state its page then shows."""
    order = product_flows.deliver(
        session=session,
        actor=actor,
        order_id=order_id,
        settings=request.app.state.context.settings,
        now=utcnow(),
        installed_as=None if delivery is None else delivery.field_asset,
    )
    return service.read_order(session=session, order=order)


@router.get("/products")
def list_products(session: DbSession, actor: CurrentActor) -> list[ProductRead]:
    rows = service.list_products(session=session, actor=actor)
    return [ProductRead.model_validate(row) for row in rows]


@router.get("/products/{serial}")
def get_product(serial: str, session: DbSession, actor: CurrentActor) -> ProductRead:
    return ProductRead.model_validate(
        service.get_product(session=session, actor=actor, serial=serial)
    )
