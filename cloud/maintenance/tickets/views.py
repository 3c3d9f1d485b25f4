"""Tickets API: reading, opening by hand, the lifecycle (acknowledge, start, resolve, close),
the coordinator's assignment, notes, parts, and the technicians' service areas."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, status

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.auth.models import Actor, Role
from cloud.database import utcnow
from cloud.exceptions import InvalidInput
from cloud.maintenance.alerts import service as alert_service
from cloud.maintenance.alerts.models import AlertRead
from cloud.maintenance.events import broadcast
from cloud.maintenance.tickets import assigning, flows, service
from cloud.maintenance.tickets.models import (
    Assign,
    MaintenanceTicket,
    Note,
    Part,
    Resolve,
    ServiceAreaSet,
    TicketCreate,
    TicketDetail,
    TicketEventRead,
    TicketRead,
    TicketStatus,
)
from cloud.maintenance.webhooks import service as webhook_service
from cloud.maintenance.webhooks.models import Channel, NotificationRead
from cloud.messaging.outbox import redacted_url
from cloud.operations.http import ApiRoute, RowId, answers
from protocols.enums import ReplyAction

router = APIRouter(route_class=ApiRoute)
MAX_PARTS = 100


def ticket_read(ticket: MaintenanceTicket) -> TicketRead:
    read = TicketRead.model_validate(ticket)
    read.repair_minutes = service.repair_minutes(ticket)
    return read


def ticket_detail(session: DbSession, ticket: MaintenanceTicket, actor: Actor) -> TicketDetail:
    """The ticket with its timeline, alerts and notifications; webhook URLs (and the tokens in
    them) only for the coordinator. A customer reads only the timeline's lines meant for
    customers, and none of the network's messages to its technicians and gateways."""
    redact = webhook_service.redactor(session=session, actor=actor)
    timeline = []
    for entry in service.timeline(session=session, ticket_id=ticket.id, actor=actor):
        event = TicketEventRead.model_validate(entry)
        event.detail = redact(event.detail)
        timeline.append(event)
    notifications = []
    sent_out = webhook_service.ticket_notifications(session=session, ticket_id=ticket.id)
    for sent in sent_out if actor.role is not Role.CUSTOMER else ():
        notification = NotificationRead.model_validate(sent)
        if notification.channel is Channel.WEBHOOK and actor.role is not Role.COORDINATOR:
            notification.target = redacted_url(notification.target)
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
            for a in alert_service.ticket_alerts(session=session, ticket_id=ticket.id)
        ],
        notifications=notifications,
    )


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
    policy = request.app.state.context.settings.maintenance.policy()
    ticket, events = flows.create_ticket(
        session, actor=actor, spec=spec, now=utcnow(), policy=policy
    )
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
    events = assigning.override_assignment(
        session, actor=actor, ticket_id=ticket_id, technician_id=spec.technician_id, now=utcnow()
    )
    session.commit()
    broadcast(request, events)
    return ticket_read(service.get_ticket(session=session, actor=actor, ticket_id=ticket_id))


@router.post("/tickets/{ticket_id}/notes", status_code=status.HTTP_201_CREATED)
def add_note(ticket_id: RowId, spec: Note, session: DbSession, actor: CurrentActor) -> TicketDetail:
    service.add_note(
        session=session,
        actor=actor,
        ticket_id=ticket_id,
        text=spec.text,
        at=utcnow(),
        audience=spec.audience,
    )
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


@router.put("/service-areas/{unit_id}")
def set_service_area(
    unit_id: str, spec: ServiceAreaSet, session: DbSession, actor: CurrentActor
) -> dict[str, Any]:
    row = service.set_service_area(
        session=session, actor=actor, unit_id=unit_id, served_units=spec.served_units
    )
    return {"unit_id": row.unit_id, "served_units": row.served_units}
