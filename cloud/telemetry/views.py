"""Telemetry history of a machine from the per-minute rollups."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.database import utcnow
from cloud.telemetry import service
from cloud.telemetry.models import RollupRead

router = APIRouter(prefix="/api", tags=["telemetry"])


@router.get("/machines/{unit_id}/{machine}/rollups")
def rollups(
    unit_id: str,
    machine: str,
    session: DbSession,
    actor: CurrentActor,
    metric: str | None = None,
    minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60)] = 60,
) -> list[RollupRead]:
    return service.rollups(
        session=session,
        actor=actor,
        unit_id=unit_id,
        machine=machine,
        metric=metric,
        since=utcnow() - timedelta(minutes=minutes),
    )
