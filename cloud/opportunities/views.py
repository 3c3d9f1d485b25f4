"""Opportunity endpoints: create, list by status, read with its trail, move along its life
cycle."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.codesign.views import FamilyRegistry
from cloud.database import utcnow
from cloud.operations.http import ApiRoute, answers
from cloud.opportunities import flows, service
from cloud.opportunities.models import (
    OpportunityCreate,
    OpportunityRead,
    OpportunityStatus,
    PartnerSearchRead,
    StatusChange,
)

router = APIRouter(prefix="/api", tags=["opportunities"], route_class=ApiRoute)


@router.post("/opportunities", status_code=status.HTTP_201_CREATED, responses=answers(404))
def create_opportunity(
    spec: OpportunityCreate,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
    families: FamilyRegistry,
) -> OpportunityRead:
    opportunity = flows.create_opportunity(
        session=session,
        actor=actor,
        families=families,
        network_id=request.app.state.context.settings.network,
        spec=spec,
        now=utcnow(),
    )
    return service.read_opportunity(session=session, opportunity=opportunity)


@router.get("/opportunities")
def list_opportunities(
    session: DbSession, actor: CurrentActor, status: OpportunityStatus | None = None
) -> list[OpportunityRead]:
    rows = service.list_opportunities(session=session, actor=actor, status=status)
    return [service.read_opportunity(session=session, opportunity=row) for row in rows]


@router.get("/opportunities/{opportunity_id}")
def get_opportunity(
    opportunity_id: str, session: DbSession, actor: CurrentActor
) -> OpportunityRead:
    row = service.get_opportunity(session=session, actor=actor, opportunity_id=opportunity_id)
    return service.read_opportunity(session=session, opportunity=row)


@router.post("/opportunities/{opportunity_id}/status", responses=answers(409))
def change_status(
    opportunity_id: str, change: StatusChange, session: DbSession, actor: CurrentActor
) -> OpportunityRead:
    row = service.transition(
        session=session,
        actor=actor,
        opportunity_id=opportunity_id,
        to=change.to,
        note=change.note,
        now=utcnow(),
    )
    return service.read_opportunity(session=session, opportunity=row)


@router.get("/opportunities/{opportunity_id}/candidates")
def candidates(
    opportunity_id: str, request: Request, session: DbSession, actor: CurrentActor
) -> PartnerSearchRead:
    """Partner search: every member for every required process, ranked, with the reasons.
    The coordinator sees all; a plant its own rows; a customer is refused (403)."""
    return flows.search_partners(
        session=session,
        actor=actor,
        settings=request.app.state.context.settings,
        opportunity_id=opportunity_id,
        now=utcnow(),
    )
