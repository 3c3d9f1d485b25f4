"""A machine's page: its live state, its telemetry charts and latest samples."""

from __future__ import annotations

from datetime import timedelta
from itertools import groupby
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from cloud.auth.dependencies import DbSession, page_actor
from cloud.config import SinkKind
from cloud.database import utcnow
from cloud.exceptions import NotFound, PermissionDenied
from cloud.network import service as network_service
from cloud.registry import service as registry_service
from cloud.registry.models import shares_telemetry
from cloud.telemetry import charts
from cloud.telemetry import service as telemetry_service
from cloud.web.templating import page, sign_in

router = APIRouter(include_in_schema=False)

LATEST_SAMPLES = 20
FINE_SPAN = timedelta(minutes=15)
"""A chart window this short is drawn from the raw samples (embedded store) in steps of
:data:`FINE_STEP`, not from per-minute rollups: a few minutes of a demo are a curve."""
FINE_STEP = timedelta(seconds=10)
FINE_SAMPLES = 5000


@router.get("/machines/{unit_id}/{machine}", response_class=HTMLResponse)
def machine_page(
    unit_id: str,
    machine: str,
    request: Request,
    session: DbSession,
    minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60)] = 60,
) -> HTMLResponse:
    """A machine's live state, a chart per metric of its per-minute rollups (of 10-second steps
    of its raw samples over a short window), its latest raw samples; scoped like the machines
    API. The window starts at the machine's first data when that is later."""
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    shown: dict[str, Any] = {"unit_id": unit_id, "machine_id": machine, "minutes": minutes}
    try:
        found = network_service.machines_live(
            session=session, actor=actor, unit_id=unit_id, machine=machine
        )
        if not found:
            raise NotFound(f"machine {machine!r} of unit {unit_id!r} does not exist")
    except (NotFound, PermissionDenied) as exc:
        return page(request, "machine.html", actor, exc.status_code, problem=exc.message, **shown)
    if found[0].telemetry_hidden:  # the member keeps its telemetry to itself
        return page(request, "machine.html", actor, machine=found[0], **shown)
    until = utcnow()
    rollups = telemetry_service.rollups(
        session=session,
        actor=actor,
        unit_id=unit_id,
        machine=machine,
        since=until - timedelta(minutes=minutes),
    )
    first = min((rollup.minute for rollup in rollups), default=None)
    since = charts.fitted_since(until - timedelta(minutes=minutes), until, first)
    kept = shares_telemetry(
        registry_service.get_unit_row(session=session, unit_id=unit_id).sharing_policy
    )
    embedded = kept and request.app.state.context.settings.telemetry.sink is SinkKind.EMBEDDED
    step = "minute"
    if embedded and rollups and until - since <= FINE_SPAN:
        raw = telemetry_service.samples(
            session=session,
            actor=actor,
            unit_id=unit_id,
            machine=machine,
            since=since,
            limit=FINE_SAMPLES,
        )
        rollups, step = charts.buckets(raw, since=since, width=FINE_STEP), "10 seconds"
    drawn = [
        charts.rollup_chart(metric, list(rows), since=since, until=until, step=step)
        for metric, rows in groupby(rollups, key=lambda rollup: rollup.metric)
    ]
    samples = None
    if embedded:  # raw samples are stored only for a member that shares its telemetry
        samples = telemetry_service.samples(
            session=session,
            actor=actor,
            unit_id=unit_id,
            machine=machine,
            since=since,
            limit=LATEST_SAMPLES,
        )[::-1]
    units = registry_service.metric_units(session=session, unit_ids=[unit_id])
    return page(
        request,
        "machine.html",
        actor,
        machine=found[0],
        charts=drawn,
        samples=samples,
        raw_kept=kept,
        units=units.get((unit_id, machine), {}),
        since=since,
        **shown,
    )
