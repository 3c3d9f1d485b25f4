"""Maintenance windows API."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.database import utcnow
from cloud.maintenance.windows import service
from cloud.maintenance.windows.models import WindowCreate, WindowRead
from cloud.operations.http import ApiRoute, answers

router = APIRouter(route_class=ApiRoute)
Days = Annotated[int, Query(ge=1, le=3660)]


@router.get("/windows")
def list_windows(session: DbSession, actor: CurrentActor, days: Days = 30) -> list[WindowRead]:
    now, span = utcnow(), timedelta(days=days)
    rows = service.list_windows(session=session, actor=actor, since=now - span, until=now + span)
    return [WindowRead.model_validate(row) for row in rows]


@router.post("/windows", status_code=status.HTTP_201_CREATED, responses=answers(404))
def create_window(spec: WindowCreate, session: DbSession, actor: CurrentActor) -> WindowRead:
    return WindowRead.model_validate(service.create_window(session=session, actor=actor, spec=spec))
