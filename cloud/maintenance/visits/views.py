"""A technician's planned day API."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.maintenance.visits import service
from cloud.maintenance.visits.models import TechnicianDay
from cloud.operations.http import ApiRoute, answers

router = APIRouter(route_class=ApiRoute)


@router.get("/technicians/{technician_id}/day", responses=answers(403, 404))
def technician_day(
    technician_id: Annotated[str, Path(max_length=64)], session: DbSession, actor: CurrentActor
) -> TechnicianDay:
    """The technician's planned route for their next working day, in visit order, with the
    drive before each visit; a technician sees only their own day, the coordinator anyone's."""
    return service.technician_day(session=session, actor=actor, technician_id=technician_id)
