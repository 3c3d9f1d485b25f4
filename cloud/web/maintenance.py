"""Maintenance pages: the board, a ticket with its timeline, the technician inbox, the figures.

Server-rendered; the buttons call the JSON API with the session cookie, and the pages follow
``/api/maintenance/events`` (server-sent events) to stay live.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Literal

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cloud.auth.dependencies import DbSession, page_actor
from cloud.auth.models import Actor, Role
from cloud.database import utcnow
from cloud.exceptions import NotFound
from cloud.maintenance import charts, reporting
from cloud.maintenance.alerts import service as alert_service
from cloud.maintenance.models import ComparisonRow
from cloud.maintenance.tickets import service as ticket_service
from cloud.maintenance.tickets.models import OPEN_STATUSES, TicketStatus
from cloud.maintenance.tickets.views import ticket_detail
from cloud.maintenance.visits import service as visit_service
from cloud.maintenance.visits.models import TechnicianDay
from cloud.operations.http import RowId
from cloud.products import service as product_service
from cloud.registry import service as registry_service
from cloud.web.templating import page, sign_in

router = APIRouter(prefix="/maintenance", include_in_schema=False)
BOARD_COLUMNS = [*OPEN_STATUSES, TicketStatus.RESOLVED]
FigurePeriod = Literal["1h", "24h", "7d", "30d"]
FIGURE_PERIODS: dict[str, tuple[timedelta, str]] = {
    "1h": (timedelta(hours=1), "last hour"),
    "24h": (timedelta(hours=24), "last 24 hours"),
    "7d": (timedelta(days=7), "last 7 days"),
    "30d": (timedelta(days=30), "last 30 days"),
}


@router.get("", response_class=HTMLResponse)
def board(
    request: Request,
    session: DbSession,
    unit: str | None = None,
    kind: str | None = None,
    priority: str | None = None,
) -> HTMLResponse:
    """Open tickets by status, with filters."""
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    tickets = ticket_service.list_tickets(
        session=session, actor=actor, status=BOARD_COLUMNS, unit_id=unit or None, kind=kind or None
    )
    if priority:
        tickets = [t for t in tickets if t.priority == priority]
    columns = {status.value: [t for t in tickets if t.status is status] for status in BOARD_COLUMNS}
    firing, silences = [], []
    if actor.role in (Role.COORDINATOR, Role.PLANT):
        firing = alert_service.list_alerts(session=session, actor=actor, firing_only=True, limit=50)
        silences = alert_service.list_silences(session=session, actor=actor, now=utcnow())
    filters = {"unit": unit or "", "kind": kind or "", "priority": priority or ""}
    overdue = []
    if actor.role is Role.COORDINATOR:
        overdue = product_service.overdue(session=session, actor=actor, now=utcnow())
    return page(
        request,
        "maintenance/board.html",
        actor,
        columns=columns,
        firing=firing,
        silences=silences,
        filters=filters,
        overdue=overdue,
        overdue_by_ticket={row.ticket_id: row for row in overdue},
    )


@router.get("/tickets/{ticket_id}", response_class=HTMLResponse)
def ticket_page(ticket_id: RowId, request: Request, session: DbSession) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    try:
        ticket = ticket_service.get_ticket(session=session, actor=actor, ticket_id=ticket_id)
    except NotFound:
        return page(request, "maintenance/missing.html", actor, 404, ticket_id=ticket_id)
    technicians = []
    if actor.role is Role.COORDINATOR:
        technicians = registry_service.list_technicians(session=session, actor=actor)
    detail = ticket_detail(session, ticket, actor)
    can_work = actor.role is Role.COORDINATOR or (
        actor.role is Role.TECHNICIAN and ticket.assignee_id == actor.technician_id
    )
    return page(
        request,
        "maintenance/ticket.html",
        actor,
        ticket=detail,
        technicians=technicians,
        can_work=can_work,
        can_close=actor.role in (Role.COORDINATOR, Role.PLANT),
    )


@router.get("/inbox", response_class=HTMLResponse)
def inbox(request: Request, session: DbSession) -> HTMLResponse:
    """The technician's planned day and open tickets, live, with acknowledge and resolve
    buttons; the coordinator sees every technician's day."""
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    tickets, days = [], []
    if actor.role is Role.TECHNICIAN:
        assert actor.technician_id is not None
        tickets = ticket_service.list_tickets(session=session, actor=actor, status=OPEN_STATUSES)
        days = [_day(session, actor, actor.technician_id)]
    elif actor.role is Role.COORDINATOR:
        technicians = registry_service.list_technicians(session=session, actor=actor)
        days = [_day(session, actor, t.id) for t in technicians]
    return page(request, "maintenance/inbox.html", actor, tickets=tickets, days=days)


def _day(session: DbSession, actor: Actor, technician_id: str) -> TechnicianDay:
    return visit_service.technician_day(session=session, actor=actor, technician_id=technician_id)


@router.get("/figures", response_class=HTMLResponse)
def figures_page(
    request: Request, session: DbSession, period: FigurePeriod = "30d"
) -> HTMLResponse:
    """Figures with charts over a period: the caller's scope, its assets, the anonymised
    comparison."""
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    if actor.role not in (Role.COORDINATOR, Role.PLANT):
        return page(request, "maintenance/figures.html", actor, summary=None, charts=[])
    network = request.app.state.context.settings.network
    until = utcnow()
    since = until - FIGURE_PERIODS[period][0]
    scope = dict(session=session, actor=actor, network=network, since=since, until=until)
    summary = reporting.figures_for(**scope)
    assets = reporting.per_asset(**scope)
    members = reporting.comparison(**scope)
    drawn = [
        charts.bar_chart(
            "Availability by asset (%)",
            [charts.Bar(f.scope, _percent(f.availability)) for f in assets],
            unit="%",
            maximum=100,
        ),
        charts.bar_chart(
            "MTTR by asset (minutes)", [charts.Bar(f.scope, f.mttr_minutes) for f in assets]
        ),
        charts.bar_chart(
            "Availability across members (%, anonymised)",
            [charts.Bar(_member(m), _percent(m.figures.availability), m.is_you) for m in members],
            unit="%",
            maximum=100,
        ),
        charts.bar_chart(
            "MTTR across members (minutes, anonymised)",
            [charts.Bar(_member(m), m.figures.mttr_minutes, m.is_you) for m in members],
        ),
    ]
    return page(
        request,
        "maintenance/figures.html",
        actor,
        summary=summary,
        charts=drawn,
        period=period,
        periods={name: label for name, (_, label) in FIGURE_PERIODS.items()},
        availability=_percent(summary.availability),
    )


def _member(row: ComparisonRow) -> str:
    return f"{row.member} (you)" if row.is_you else row.member


def _percent(value: float | None) -> float | None:
    """A share in percent to two decimals, rounded down: any downtime shows below 100 %."""
    return None if value is None else math.floor(value * 10_000) / 100
