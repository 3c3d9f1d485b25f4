"""Co-design and order pages: configurator, orders list and detail, the plan as a Gantt chart
(drawn in the browser from ``GET /api/plan/gantt``).

Server-rendered; the browser calls the same JSON API as any client, and live events (SSE)
make the pages fetch fresh fragments.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from fastapi.templating import Jinja2Templates

from cloud.auth.dependencies import CurrentActor, DbSession, page_actor
from cloud.auth.models import Role
from cloud.events import Event, sse_stream
from cloud.orders import service as orders_service

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


def _page(request: Request, session: DbSession, name: str, **context: Any) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return templates.TemplateResponse(request, "login.html", status_code=401)
    return templates.TemplateResponse(request, name, {"actor": actor, **context})


@router.get("/configurator", response_class=HTMLResponse)
def configurator_page(request: Request, session: DbSession, family: str | None = None) -> Any:
    families = request.app.state.context.families
    chosen = families.get(family) if family else next(iter(families.values()), None)
    return _page(
        request,
        session,
        "configurator.html",
        families=list(families.values()),
        family=chosen,
        family_json=chosen.model_dump(mode="json", by_alias=True) if chosen else None,
    )


@router.get("/orders", response_class=HTMLResponse)
def orders_page(request: Request, session: DbSession) -> Any:
    actor = page_actor(request, session)
    orders = []
    if actor is not None and actor.role in (Role.COORDINATOR, Role.CUSTOMER):
        rows = orders_service.list_orders(session=session, actor=actor)
        orders = [orders_service.read_order(session=session, order=row) for row in rows]
    return _page(request, session, "orders.html", orders=orders)


@router.get("/orders/{order_id}", response_class=HTMLResponse)
def order_page(order_id: str, request: Request, session: DbSession) -> Any:
    actor = page_actor(request, session)
    if actor is None:
        return _page(request, session, "order.html")
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
    return _page(
        request,
        session,
        "order.html",
        order=orders_service.read_order(session=session, order=order),
        product=product,
    )


@router.get("/plan", response_class=HTMLResponse)
def plan_page(request: Request, session: DbSession) -> Any:
    return _page(request, session, "plan.html")


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
