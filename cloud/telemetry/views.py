"""Telemetry history of a machine: per-minute rollups, and raw samples of the embedded store."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.config import SinkKind
from cloud.database import utcnow
from cloud.exceptions import Conflict
from cloud.telemetry import service
from cloud.telemetry.models import RollupRead, SampleRead

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


@router.get("/machines/{unit_id}/{machine}/samples")
def samples(
    unit_id: str,
    machine: str,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
    metric: str | None = None,
    minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60)] = 60,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[SampleRead]:
    """The newest raw samples of the window, in time order (from the embedded store)."""
    if request.app.state.context.settings.telemetry.sink is not SinkKind.EMBEDDED:
        raise Conflict(
            "raw samples are kept in InfluxDB (telemetry.sink: influxdb); query it there,"
            " or read the per-minute rollups here"
        )
    return service.samples(
        session=session,
        actor=actor,
        unit_id=unit_id,
        machine=machine,
        metric=metric,
        since=utcnow() - timedelta(minutes=minutes),
        limit=limit,
    )
