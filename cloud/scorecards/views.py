"""Scorecard endpoints: the caller's scorecards with the network's percentiles, and one
member's."""

from __future__ import annotations

from fastapi import APIRouter, Request

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.database import utcnow
from cloud.operations.http import ApiRoute
from cloud.scorecards import service
from cloud.scorecards.models import Scorecard, ScorecardsRead

router = APIRouter(prefix="/api/scorecards", tags=["scorecards"], route_class=ApiRoute)


@router.get("")
def scorecards(request: Request, session: DbSession, actor: CurrentActor) -> ScorecardsRead:
    """A member's own scorecard, a coordinator's everyone's; the network's p25/p50/p75 of each
    figure for both (no member named)."""
    return service.scorecards(
        session=session, actor=actor, settings=request.app.state.context.settings, now=utcnow()
    )


@router.get("/{unit_id}")
def scorecard(unit_id: str, request: Request, session: DbSession, actor: CurrentActor) -> Scorecard:
    return service.scorecard(
        session=session,
        actor=actor,
        settings=request.app.state.context.settings,
        unit_id=unit_id,
        now=utcnow(),
    )
