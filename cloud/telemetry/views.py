"""Telemetry history of a machine: per-minute rollups, and raw samples of the embedded store."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from cloud.auth.dependencies import as_caller
from cloud.auth.models import Actor
from cloud.config import SinkKind
from cloud.database import utcnow
from cloud.exceptions import Conflict
from cloud.telemetry import service
from cloud.telemetry.models import RollupRead, SampleRead

router = APIRouter(prefix="/api", tags=["telemetry"])


@router.get("/machines/{unit_id}/{machine}/rollups")
async def rollups(
    request: Request,
    unit_id: str,
    machine: str,
    metric: str | None = None,
    minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60)] = 60,
) -> list[RollupRead]:
    since = utcnow() - timedelta(minutes=minutes)
    return await as_caller(
        request,
        lambda session, actor: service.rollups(
            session=session,
            actor=actor,
            unit_id=unit_id,
            machine=machine,
            metric=metric,
            since=since,
        ),
    )


@router.get("/machines/{unit_id}/{machine}/samples")
async def samples(
    request: Request,
    unit_id: str,
    machine: str,
    metric: str | None = None,
    minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60)] = 60,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[SampleRead]:
    """The newest raw samples of the window, in time order (from the embedded store)."""
    embedded = request.app.state.context.settings.telemetry.sink is SinkKind.EMBEDDED
    since = utcnow() - timedelta(minutes=minutes)

    def read(session: Session, actor: Actor) -> list[SampleRead]:
        if not embedded:  # said to an authenticated caller only
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
            since=since,
            limit=limit,
        )

    return await as_caller(request, read)
