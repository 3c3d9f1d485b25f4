"""Telemetry history of a machine: per-minute rollups, and raw samples of the embedded store."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session

from cloud.auth.dependencies import as_caller
from cloud.auth.models import Actor
from cloud.config import SinkKind
from cloud.database import utcnow
from cloud.exceptions import Conflict
from cloud.operations.http import ApiRoute, answers
from cloud.telemetry import service
from cloud.telemetry.models import RollupRead, SampleRead

router = APIRouter(prefix="/api", tags=["telemetry"], route_class=ApiRoute)


@dataclass(frozen=True)
class Window:
    """The machine, metric and time window both history endpoints read (the keywords of
    :func:`service.rollups` and :func:`service.samples`)."""

    unit_id: str
    machine: str
    metric: str | None
    since: datetime


async def _window(
    unit_id: str,
    machine: str,
    metric: str | None = None,
    minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60)] = 60,
) -> Window:
    # async: FastAPI would run a sync dependency in the thread pool, one hand-over more
    return Window(unit_id, machine, metric, utcnow() - timedelta(minutes=minutes))


MachineWindow = Annotated[Window, Depends(_window)]


@router.get("/machines/{unit_id}/{machine}/rollups")
async def rollups(request: Request, window: MachineWindow) -> list[RollupRead]:
    return await as_caller(
        request,
        lambda session, actor: service.rollups(session=session, actor=actor, **asdict(window)),
    )


@router.get("/machines/{unit_id}/{machine}/samples", responses=answers(409))
async def samples(
    request: Request,
    window: MachineWindow,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[SampleRead]:
    """The newest raw samples of the window, in time order (from the embedded store)."""
    embedded = request.app.state.context.settings.telemetry.sink is SinkKind.EMBEDDED

    def read(session: Session, actor: Actor) -> list[SampleRead]:
        if not embedded:  # said to an authenticated caller only
            raise Conflict(
                "raw samples are kept in InfluxDB (telemetry.sink: influxdb); query it there,"
                " or read the per-minute rollups here"
            )
        return service.samples(session=session, actor=actor, limit=limit, **asdict(window))

    return await as_caller(request, read)
