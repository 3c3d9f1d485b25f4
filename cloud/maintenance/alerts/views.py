"""Alerts and silences API."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.database import utcnow
from cloud.maintenance.alerts import service
from cloud.maintenance.alerts.models import AlertRead, SilenceCreate, SilenceRead, SilenceRow
from cloud.operations.http import ApiRoute, RowId

router = APIRouter(route_class=ApiRoute)


@router.get("/alerts")
def list_alerts(session: DbSession, actor: CurrentActor, firing: bool = False) -> list[AlertRead]:
    rows = service.list_alerts(session=session, actor=actor, firing_only=firing)
    return [AlertRead.model_validate(row) for row in rows]


def _silence(row: SilenceRow, now: datetime) -> SilenceRead:
    read = SilenceRead.model_validate(row)
    read.active = row.starts_at <= now < row.ends_at
    return read


@router.get("/silences")
def list_silences(
    session: DbSession, actor: CurrentActor, expired: bool = False
) -> list[SilenceRead]:
    now = utcnow()
    rows = service.list_silences(session=session, actor=actor, now=now, include_expired=expired)
    return [_silence(row, now) for row in rows]


@router.post("/silences", status_code=status.HTTP_201_CREATED)
def create_silence(spec: SilenceCreate, session: DbSession, actor: CurrentActor) -> SilenceRead:
    now = utcnow()
    return _silence(service.create_silence(session=session, actor=actor, spec=spec, now=now), now)


@router.delete("/silences/{silence_id}")
def expire_silence(silence_id: RowId, session: DbSession, actor: CurrentActor) -> SilenceRead:
    now = utcnow()
    row = service.expire_silence(session=session, actor=actor, silence_id=silence_id, now=now)
    return _silence(row, now)
