"""The network overview page (server-rendered, kept live by server-sent events) and a machine's
page with its telemetry charts."""

from __future__ import annotations

from datetime import timedelta
from itertools import groupby
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from cloud.auth.dependencies import DbSession, page_actor
from cloud.auth.models import MIN_PASSWORD
from cloud.config import SinkKind
from cloud.database import utcnow
from cloud.exceptions import NotFound, PermissionDenied
from cloud.network import service as network_service
from cloud.telemetry import charts
from cloud.telemetry import service as telemetry_service

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


# Where a role without a network overview starts (the navigation's first link for that role).
ROLE_HOMES = {"customer": "/orders", "technician": "/maintenance/inbox"}


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, session: DbSession) -> Response:
    """The overview for the caller's scope, or the sign-in form without a valid key; customers
    and technicians, who have no network overview, go to their own start page."""
    actor = page_actor(request, session)
    if actor is None:
        return templates.TemplateResponse(request, "login.html", status_code=401)
    home = ROLE_HOMES.get(actor.role.value)
    if home is not None:
        return RedirectResponse(home, status_code=303)
    network = request.app.state.context.settings.network
    overview = None
    if actor.role.value in ("coordinator", "plant"):
        overview = network_service.overview(session=session, actor=actor, network_id=network)
        machines = network_service.machines_live(session=session, actor=actor)
    else:
        machines = []
    return templates.TemplateResponse(
        request,
        "overview.html",
        {"actor": actor, "overview": overview, "machines": machines, "network": network},
    )


@router.get("/invite", response_class=HTMLResponse)
def invitation_page(request: Request) -> Response:
    """Where an invitation link leads: the person sets their password (the token is in the
    link's fragment and goes to the API from the page)."""
    return templates.TemplateResponse(request, "invite.html", {"min_password": MIN_PASSWORD})


LATEST_SAMPLES = 20


@router.get("/machines/{unit_id}/{machine}", response_class=HTMLResponse)
def machine_page(
    unit_id: str,
    machine: str,
    request: Request,
    session: DbSession,
    minutes: Annotated[int, Query(ge=1, le=7 * 24 * 60)] = 60,
) -> HTMLResponse:
    """A machine's live state, a chart per metric of its per-minute rollups, its latest raw
    samples; scoped like the machines API."""
    actor = page_actor(request, session)
    if actor is None:
        return templates.TemplateResponse(request, "login.html", status_code=401)
    context = request.app.state.context
    page = {
        "actor": actor,
        "network": context.settings.network,
        "unit_id": unit_id,
        "machine_id": machine,
        "minutes": minutes,
    }
    try:
        found = network_service.machines_live(
            session=session, actor=actor, unit_id=unit_id, machine=machine
        )
        if not found:
            raise NotFound(f"machine {machine!r} of unit {unit_id!r} does not exist")
    except (NotFound, PermissionDenied) as exc:
        page["problem"] = exc.message
        return templates.TemplateResponse(request, "machine.html", page, exc.status_code)
    until = utcnow()
    since = until - timedelta(minutes=minutes)
    rollups = telemetry_service.rollups(
        session=session, actor=actor, unit_id=unit_id, machine=machine, since=since
    )
    page["machine"] = found[0]
    page["charts"] = [
        charts.rollup_chart(metric, list(rows), since=since, until=until)
        for metric, rows in groupby(rollups, key=lambda rollup: rollup.metric)
    ]
    page["samples"] = None
    if context.settings.telemetry.sink is SinkKind.EMBEDDED:
        page["samples"] = telemetry_service.samples(
            session=session,
            actor=actor,
            unit_id=unit_id,
            machine=machine,
            since=since,
            limit=LATEST_SAMPLES,
        )[::-1]
    return templates.TemplateResponse(request, "machine.html", page)
