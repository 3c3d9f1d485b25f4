"""Maintenance API: tickets and their lifecycle, alerts, silences, plans, windows, webhooks,
figures and the live event stream (the maintenance worker runs in :mod:`cloud.services`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Annotated, Any

from anyio import from_thread
from fastapi import APIRouter, Path, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from cloud.auth import service as auth_service
from cloud.auth.dependencies import CurrentActor, DbSession, api_key_from
from cloud.auth.models import Actor, Role
from cloud.database import transaction, utcnow
from cloud.events import Event, sse_stream
from cloud.exceptions import InvalidInput
from cloud.maintenance import flows, outbox, reporting, service
from cloud.maintenance.models import (
    AlertRead,
    Assign,
    Channel,
    ComparisonRow,
    FiguresRead,
    MaintenanceTicket,
    Note,
    NotificationRead,
    Part,
    PlanCreate,
    PlanRead,
    Resolve,
    ServiceAreaSet,
    SilenceCreate,
    SilenceRead,
    SilenceRow,
    TechnicianDay,
    TicketCreate,
    TicketDetail,
    TicketEventRead,
    TicketRead,
    TicketStatus,
    WebhookCreate,
    WebhookRead,
    WindowCreate,
    WindowRead,
)
from cloud.maintenance.visits import service as visit_service
from cloud.messaging.models import DeliveryStatus
from cloud.operations.http import ApiRoute, RowId, answers
from protocols.enums import ReplyAction

router = APIRouter(prefix="/api/maintenance", tags=["maintenance"], route_class=ApiRoute)
MAX_PARTS = 100
Days = Annotated[int, Query(ge=1, le=3660)]


def broadcast(request: Request, events: Sequence[Event]) -> None:
    """Hand events to the live pages (and wake the worker) from a sync endpoint's thread."""
    broadcaster = request.app.state.context.broadcaster
    for event in events:
        from_thread.run_sync(broadcaster.publish, event)


def ticket_read(ticket: MaintenanceTicket) -> TicketRead:
    read = TicketRead.model_validate(ticket)
    read.repair_minutes = service.repair_minutes(ticket)
    return read


def ticket_detail(session: DbSession, ticket: MaintenanceTicket, actor: Actor) -> TicketDetail:
    """The ticket with its timeline, alerts and notifications; webhook URLs (and the tokens in
    them) only for the coordinator."""
    redact = service.redactor(session=session, actor=actor)
    timeline = []
    for entry in service.timeline(session=session, ticket_id=ticket.id):
        event = TicketEventRead.model_validate(entry)
        event.detail = redact(event.detail)
        timeline.append(event)
    notifications = []
    for sent in service.ticket_notifications(session=session, ticket_id=ticket.id):
        notification = NotificationRead.model_validate(sent)
        if notification.channel is Channel.WEBHOOK and actor.role is not Role.COORDINATOR:
            notification.target = service.redacted_url(notification.target)
        if notification.channel is Channel.EMAIL and actor.role is not Role.COORDINATOR:
            notification.target = "[a person's address]"  # personal data: the coordinator's
        notification.target = redact(notification.target)
        notification.last_error = notification.last_error and redact(notification.last_error)
        notifications.append(notification)
    return TicketDetail(
        **ticket_read(ticket).model_dump(),
        timeline=timeline,
        alerts=[
            AlertRead.model_validate(a)
            for a in service.ticket_alerts(session=session, ticket_id=ticket.id)
        ],
        notifications=notifications,
    )


def visible_to(actor: Actor) -> Any:
    """Which maintenance events an SSE client may see."""

    def visible(event: Event) -> bool:
        if event.get("type") != outbox.EVENT_TYPE:
            return False
        if actor.role is Role.COORDINATOR:
            return True
        if actor.role is Role.PLANT:
            return bool(event.get("unit_id") == actor.unit_id)
        if actor.role is Role.TECHNICIAN:
            return bool(event.get("technician_id") == actor.technician_id)
        return bool(actor.customer_id and event.get("customer_id") == actor.customer_id)

    return visible


# Tickets ----------------------------------------------------------------------------------------


@router.get("/tickets")
def list_tickets(
    session: DbSession,
    actor: CurrentActor,
    status_: Annotated[list[TicketStatus] | None, Query(alias="status")] = None,
    unit_id: str | None = None,
    asset: str | None = None,
    kind: str | None = None,
) -> list[TicketRead]:
    rows = service.list_tickets(
        session=session,
        actor=actor,
        status=status_ or (),
        unit_id=unit_id,
        asset=asset,
        kind=kind,
    )
    return [ticket_read(row) for row in rows]


@router.post("/tickets", status_code=status.HTTP_201_CREATED, responses=answers(404))
def create_ticket(
    spec: TicketCreate, request: Request, session: DbSession, actor: CurrentActor
) -> TicketRead:
    ticket, events = flows.create_ticket(session, actor=actor, spec=spec, now=utcnow())
    session.commit()
    broadcast(request, events)
    return ticket_read(ticket)


@router.get("/tickets/{ticket_id}")
def get_ticket(ticket_id: RowId, session: DbSession, actor: CurrentActor) -> TicketDetail:
    ticket = service.get_ticket(session=session, actor=actor, ticket_id=ticket_id)
    return ticket_detail(session, ticket, actor)


def _act(
    request: Request,
    session: DbSession,
    actor: Actor,
    ticket_id: RowId,
    action: ReplyAction,
    note: str = "",
    parts: Sequence[dict[str, Any]] = (),
) -> TicketRead:
    events = flows.technician_action(
        session,
        actor=actor,
        ticket_id=ticket_id,
        action=action,
        now=utcnow(),
        note=note,
        parts=parts,
    )
    session.commit()
    broadcast(request, events)
    return ticket_read(service.get_ticket(session=session, actor=actor, ticket_id=ticket_id))


@router.post("/tickets/{ticket_id}/acknowledge", responses=answers(409))
def acknowledge(
    ticket_id: RowId, request: Request, session: DbSession, actor: CurrentActor
) -> TicketRead:
    return _act(request, session, actor, ticket_id, ReplyAction.ACKNOWLEDGE)


@router.post("/tickets/{ticket_id}/start", responses=answers(409))
def start(
    ticket_id: RowId, request: Request, session: DbSession, actor: CurrentActor
) -> TicketRead:
    return _act(request, session, actor, ticket_id, ReplyAction.START)


@router.post("/tickets/{ticket_id}/resolve", responses=answers(409))
def resolve(
    ticket_id: RowId,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
    body: Resolve | None = None,
) -> TicketRead:
    body = body or Resolve()
    parts = [part.model_dump() for part in body.parts_used]
    return _act(request, session, actor, ticket_id, ReplyAction.RESOLVE, body.note, parts)


@router.post("/tickets/{ticket_id}/close", responses=answers(409))
def close(
    ticket_id: RowId, request: Request, session: DbSession, actor: CurrentActor
) -> TicketRead:
    events = flows.close(session, actor=actor, ticket_id=ticket_id, now=utcnow())
    session.commit()
    broadcast(request, events)
    return ticket_read(service.get_ticket(session=session, actor=actor, ticket_id=ticket_id))


@router.post("/tickets/{ticket_id}/assign", responses=answers(409))
def assign(
    ticket_id: RowId, spec: Assign, request: Request, session: DbSession, actor: CurrentActor
) -> TicketRead:
    events = flows.override_assignment(
        session, actor=actor, ticket_id=ticket_id, technician_id=spec.technician_id, now=utcnow()
    )
    session.commit()
    broadcast(request, events)
    return ticket_read(service.get_ticket(session=session, actor=actor, ticket_id=ticket_id))


@router.post("/tickets/{ticket_id}/notes", status_code=status.HTTP_201_CREATED)
def add_note(ticket_id: RowId, spec: Note, session: DbSession, actor: CurrentActor) -> TicketDetail:
    service.add_note(session=session, actor=actor, ticket_id=ticket_id, text=spec.text, at=utcnow())
    session.flush()
    ticket = service.get_ticket(session=session, actor=actor, ticket_id=ticket_id)
    return ticket_detail(session, ticket, actor)


@router.post("/tickets/{ticket_id}/parts", status_code=status.HTTP_201_CREATED)
def add_parts(
    ticket_id: RowId,
    parts: list[Part],
    session: DbSession,
    actor: CurrentActor,
) -> TicketRead:
    ticket = service.get_ticket(session=session, actor=actor, ticket_id=ticket_id)
    service.require_assignee_or_coordinator(actor, ticket)
    if len(parts) > MAX_PARTS:
        raise InvalidInput(f"at most {MAX_PARTS} parts at once")
    service.add_parts(
        session=session,
        ticket=ticket,
        parts=[part.model_dump() for part in parts],
        actor=service.actor_label(actor),
        at=utcnow(),
    )
    return ticket_read(ticket)


# Alerts, silences, windows, plans ---------------------------------------------------------------


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


@router.get("/windows")
def list_windows(session: DbSession, actor: CurrentActor, days: Days = 30) -> list[WindowRead]:
    now, span = utcnow(), timedelta(days=days)
    rows = service.list_windows(session=session, actor=actor, since=now - span, until=now + span)
    return [WindowRead.model_validate(row) for row in rows]


@router.post("/windows", status_code=status.HTTP_201_CREATED, responses=answers(404))
def create_window(spec: WindowCreate, session: DbSession, actor: CurrentActor) -> WindowRead:
    return WindowRead.model_validate(service.create_window(session=session, actor=actor, spec=spec))


@router.get("/plans")
def list_plans(session: DbSession, actor: CurrentActor) -> list[PlanRead]:
    return [PlanRead.model_validate(p) for p in service.list_plans(session=session, actor=actor)]


@router.post("/plans", status_code=status.HTTP_201_CREATED, responses=answers(404))
def create_plan(spec: PlanCreate, session: DbSession, actor: CurrentActor) -> PlanRead:
    return PlanRead.model_validate(service.create_plan(session=session, actor=actor, spec=spec))


@router.delete("/plans/{plan_id}")
def deactivate_plan(plan_id: RowId, session: DbSession, actor: CurrentActor) -> PlanRead:
    plan = service.deactivate_plan(session=session, actor=actor, plan_id=plan_id)
    return PlanRead.model_validate(plan)


# Webhooks, deliveries, service areas ------------------------------------------------------------


@router.get("/webhooks")
def list_webhooks(session: DbSession, actor: CurrentActor) -> list[WebhookRead]:
    rows = service.list_webhooks(session=session, actor=actor)
    return [WebhookRead.model_validate(row) for row in rows]


@router.post("/webhooks", status_code=status.HTTP_201_CREATED)
def create_webhook(spec: WebhookCreate, session: DbSession, actor: CurrentActor) -> WebhookRead:
    return WebhookRead.model_validate(
        service.create_webhook(session=session, actor=actor, spec=spec)
    )


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_webhook(webhook_id: RowId, session: DbSession, actor: CurrentActor) -> Response:
    service.remove_webhook(session=session, actor=actor, webhook_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/notifications")
def list_notifications(
    session: DbSession,
    actor: CurrentActor,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
) -> list[NotificationRead]:
    rows = service.list_notifications(session=session, actor=actor, status=status_)
    return [NotificationRead.model_validate(row) for row in rows]


@router.put("/service-areas/{unit_id}")
def set_service_area(
    unit_id: str, spec: ServiceAreaSet, session: DbSession, actor: CurrentActor
) -> dict[str, Any]:
    row = service.set_service_area(
        session=session, actor=actor, unit_id=unit_id, served_units=spec.served_units
    )
    return {"unit_id": row.unit_id, "served_units": row.served_units}


# Figures and live events ------------------------------------------------------------------------


@router.get("/figures", responses=answers(404))
def get_figures(
    request: Request,
    session: DbSession,
    actor: CurrentActor,
    unit_id: str | None = None,
    asset: str | None = None,
    days: Days = 30,
) -> FiguresRead:
    now = utcnow()
    return reporting.figures_for(
        session=session,
        actor=actor,
        network=request.app.state.context.settings.network,
        since=now - timedelta(days=days),
        until=now,
        unit_id=unit_id,
        asset=asset,
    )


@router.get("/figures/comparison")
def get_comparison(
    request: Request, session: DbSession, actor: CurrentActor, days: Days = 30
) -> list[ComparisonRow]:
    now = utcnow()
    return reporting.comparison(
        session=session,
        actor=actor,
        network=request.app.state.context.settings.network,
        since=now - timedelta(days=days),
        until=now,
    )


@router.get("/technicians/{technician_id}/day", responses=answers(403, 404))
def technician_day(
    technician_id: Annotated[str, Path(max_length=64)], session: DbSession, actor: CurrentActor
) -> TechnicianDay:
    """The technician's planned route for their next working day, in visit order, with the
    drive before each visit; a technician sees only their own day, the coordinator anyone's."""
    return visit_service.technician_day(session=session, actor=actor, technician_id=technician_id)


@router.get("/events", response_class=StreamingResponse)
def events(request: Request) -> StreamingResponse:
    """Server-sent events about the tickets the caller may see (the technician inbox).

    Authenticates in its own short transaction: a request-scoped session would hold a database
    connection for as long as the stream stays open.
    """
    context = request.app.state.context
    with transaction(context.session_factory) as session:
        actor = auth_service.authenticate(session=session, api_key=api_key_from(request))
    return StreamingResponse(
        context.counted_stream(sse_stream(context.broadcaster, visible_to(actor))),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
