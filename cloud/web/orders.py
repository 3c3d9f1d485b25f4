"""The order pages: the orders list, an order's detail (with the materials bought for it, where
the coordinator records a delivery or a delay), a quote's price breakdown, and the live stream
that keeps the order and plan pages fresh.

Server-rendered; the browser calls the same JSON API as any client, and live events (SSE)
make the pages fetch fresh fragments.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse

from cloud.auth.dependencies import CurrentActor, DbSession, page_actor
from cloud.auth.models import Role
from cloud.events import Event, sse_stream
from cloud.opportunities.models import Opportunity
from cloud.orders import flows as orders_flows
from cloud.orders import service as orders_service
from cloud.suppliers import service as supplier_service
from cloud.web.templating import page, sign_in

router = APIRouter(include_in_schema=False)


@router.get("/orders", response_class=HTMLResponse)
def orders_page(request: Request, session: DbSession) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    orders = []
    if actor.role in (Role.COORDINATOR, Role.CUSTOMER):
        rows = orders_service.list_orders(session=session, actor=actor)
        orders = [orders_service.read_order(session=session, order=row) for row in rows]
    return page(request, "orders/list.html", actor, orders=orders)


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(order_id: str, request: Request, session: DbSession) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    order = orders_service.get_order(session=session, actor=actor, order_id=order_id)
    product = None
    if order.status in ("completed", "delivered"):
        product = next(
            (
                p
                for p in orders_service.list_products(session=session, actor=actor)
                if p.order_id == order.id
            ),
            None,
        )
    families = request.app.state.context.families
    family = None if order.family_id is None else families.get(order.family_id)
    options = family.options if family is not None else []
    opportunity = (
        None if order.opportunity_id is None else session.get(Opportunity, order.opportunity_id)
    )
    purchases = [
        supplier_service.read_purchase(row, actor)
        for row in supplier_service.list_purchases(session=session, actor=actor, order_id=order.id)
    ]
    return page(
        request,
        "orders/detail.html",
        actor,
        order=orders_service.read_order(session=session, order=order),
        product=product,
        labels={option.id: option.label for option in options},
        units={option.id: getattr(option, "unit", "") for option in options},
        purchases=purchases,
        opportunity_title=None if opportunity is None else opportunity.title,
    )


@router.get("/quotes/{quote_id}", response_class=HTMLResponse)
def quote_page(quote_id: str, request: Request, session: DbSession) -> HTMLResponse:
    """A quote's price breakdown, as the caller may see it (see ``GET …/breakdown``)."""
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    shown = orders_flows.breakdown(session=session, actor=actor, quote_id=quote_id)
    quote = None
    if actor.role is not Role.PLANT:
        quote = orders_service.get_quote(session=session, actor=actor, quote_id=quote_id)
    return page(request, "orders/quote.html", actor, breakdown=shown, quote=quote)


@router.get("/api/orders-events", response_class=StreamingResponse)
def order_events(request: Request, actor: CurrentActor) -> StreamingResponse:
    """Live plan, dispatch, job and order events the caller may see (SSE)."""
    context = request.app.state.context

    def visible(event: Event) -> bool:
        if actor.is_coordinator:
            return True
        if actor.role is Role.PLANT:
            return event.get("unit_id") == actor.unit_id
        return actor.role is Role.CUSTOMER and event.get("customer_id") == actor.customer_id

    return StreamingResponse(
        context.counted_stream(sse_stream(context.broadcaster, visible)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
