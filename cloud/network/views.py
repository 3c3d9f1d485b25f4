"""Live network API: overview, units' and machines' live state, job progress, event stream."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from sqlalchemy.orm import Session

from cloud.auth import service as auth_service
from cloud.auth.dependencies import api_key_from, as_caller
from cloud.auth.models import Actor
from cloud.database import transaction
from cloud.events import sse_stream
from cloud.network import service
from cloud.network.models import GatewayHealth, JobProgressRead, MachineLive, NetworkOverview
from cloud.operations.http import ApiRoute, answers

router = APIRouter(prefix="/api", tags=["live"], route_class=ApiRoute)


# The live reads are what dashboards poll while the ingest keeps the process busy: they run in
# one worker-thread call each (see as_caller).


@router.get("/overview")
async def overview(request: Request) -> NetworkOverview:
    network = request.app.state.context.settings.network
    return await as_caller(
        request,
        lambda session, actor: service.overview(session=session, actor=actor, network_id=network),
    )


@router.get("/units/{unit_id}/health", responses=answers(404))
async def gateway_health(request: Request, unit_id: str) -> GatewayHealth:
    """The unit's gateway: online or not, its version, its clock, the nodes it is missing."""
    return await as_caller(
        request,
        lambda session, actor: service.gateway_health(
            session=session, actor=actor, unit_id=unit_id
        ),
    )


@router.get("/machines")
async def machines(request: Request, unit_id: str | None = None) -> list[MachineLive]:
    return await as_caller(
        request,
        lambda session, actor: service.machines_live(session=session, actor=actor, unit_id=unit_id),
    )


@router.get("/machines/{unit_id}/{machine}")
async def machine(request: Request, unit_id: str, machine: str) -> MachineLive:
    return await as_caller(
        request,
        lambda session, actor: service.machine_live(
            session=session, actor=actor, unit_id=unit_id, machine=machine
        ),
    )


@router.get("/jobs", responses=answers(404))
async def jobs(request: Request, unit_id: str | None = None) -> list[JobProgressRead]:
    def read(session: Session, actor: Actor) -> list[JobProgressRead]:
        rows = service.list_jobs(session=session, actor=actor, unit_id=unit_id)
        return [JobProgressRead.model_validate(row) for row in rows]

    return await as_caller(request, read)


@router.get("/events", response_class=StreamingResponse)
def events(request: Request) -> StreamingResponse:
    """Server-sent events of live state changes the caller may see.

    Authenticates with its own short transaction: a request-scoped session would hold a
    database connection for as long as the stream stays open.
    """
    context = request.app.state.context
    with transaction(context.session_factory) as session:
        actor = auth_service.authenticate(session=session, api_key=api_key_from(request))
        visible = service.events_visible_to(session=session, actor=actor)
    return StreamingResponse(
        context.counted_stream(sse_stream(context.broadcaster, visible)),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
