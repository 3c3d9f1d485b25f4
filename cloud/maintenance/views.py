"""Maintenance API: the sub-domains' routers under ``/api/maintenance`` (tickets, alerts and
silences, windows, plans, webhooks, technicians' days), the figures, and the live event stream
(the maintenance worker runs in :mod:`cloud.services`)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from cloud.auth import service as auth_service
from cloud.auth.dependencies import CurrentActor, DbSession, api_key_from
from cloud.auth.models import Actor, Role
from cloud.database import transaction, utcnow
from cloud.events import Event, sse_stream
from cloud.maintenance import reporting
from cloud.maintenance.alerts.views import router as alerts_router
from cloud.maintenance.events import EVENT_TYPE
from cloud.maintenance.models import ComparisonRow, FiguresRead
from cloud.maintenance.plans.views import router as plans_router
from cloud.maintenance.tickets.views import router as tickets_router
from cloud.maintenance.visits.views import router as visits_router
from cloud.maintenance.webhooks.views import router as webhooks_router
from cloud.maintenance.windows.views import router as windows_router
from cloud.operations.http import ApiRoute, answers

router = APIRouter(prefix="/api/maintenance", tags=["maintenance"], route_class=ApiRoute)
for _subdomain in (
    tickets_router,
    alerts_router,
    windows_router,
    plans_router,
    webhooks_router,
    visits_router,
):
    router.include_router(_subdomain)
Days = Annotated[int, Query(ge=1, le=3660)]


def visible_to(actor: Actor) -> Any:
    """Which maintenance events an SSE client may see."""

    def visible(event: Event) -> bool:
        if event.get("type") != EVENT_TYPE:
            return False
        if actor.role is Role.COORDINATOR:
            return True
        if actor.role is Role.PLANT:
            return bool(event.get("unit_id") == actor.unit_id)
        if actor.role is Role.TECHNICIAN:
            return bool(event.get("technician_id") == actor.technician_id)
        return bool(actor.customer_id and event.get("customer_id") == actor.customer_id)

    return visible


# Figures and live events ------------------------------------------------------------------------


@router.get("/figures", responses=answers(404))
def get_figures(
    request: Request,
    session: DbSession,
    actor: CurrentActor,
    unit_id: str | None = None,
    asset: str | None = None,
    days: Days = 30,
) -> FiguresRead:
    now = utcnow()
    return reporting.figures_for(
        session=session,
        actor=actor,
        network=request.app.state.context.settings.network,
        since=now - timedelta(days=days),
        until=now,
        unit_id=unit_id,
        asset=asset,
    )


@router.get("/figures/comparison")
def get_comparison(
    request: Request, session: DbSession, actor: CurrentActor, days: Days = 30
) -> list[ComparisonRow]:
    now = utcnow()
    return reporting.comparison(
        session=session,
        actor=actor,
        network=request.app.state.context.settings.network,
        since=now - timedelta(days=days),
        until=now,
    )


@router.get("/events", response_class=StreamingResponse)
def events(request: Request) -> StreamingResponse:
    """Server-sent events about the tickets the caller may see (the technician inbox).

    Authenticates in its own short transaction: a request-scoped session would hold a database
    connection for as long as the stream stays open.
    """
    context = request.app.state.context
    with transaction(context.session_factory) as session:
        actor = auth_service.authenticate(session=session, api_key=api_key_from(request))
    return StreamingResponse(
        context.counted_stream(sse_stream(context.broadcaster, visible_to(actor))),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
