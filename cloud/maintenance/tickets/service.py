"""Tickets and their timeline: priorities from the service level, scoping by role, status
changes, notes and parts, each technician's load, and the service areas.

Every function takes the session and, where callers differ, the actor; scoping happens here:
the coordinator sees everything, a plant its own unit's tickets, a technician the tickets
assigned to them, a customer the tickets of their own products. Another tenant's ticket answers
404 (its existence is not revealed); an action a role may never take answers 403.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied
from cloud.maintenance.config import DEFAULT_POLICY, MaintenancePolicy
from cloud.maintenance.routing import SeverityLevel
from cloud.maintenance.tickets.models import (
    OPEN_STATUSES,
    Audience,
    MaintenanceTicket,
    Priority,
    ServiceArea,
    TicketEvent,
    TicketKind,
    TicketStatus,
)
from cloud.registry.models import Unit

SYSTEM = "system"


_BASE_PRIORITY = {
    SeverityLevel.CRITICAL: 1,
    SeverityLevel.MAJOR: 2,
    SeverityLevel.MINOR: 3,
    SeverityLevel.WARNING: 4,
    SeverityLevel.INFO: 4,
}


def actor_label(actor: Actor) -> str:
    """How the timeline names who did something."""
    if actor.role is Role.TECHNICIAN:
        return f"technician {actor.technician_id}"
    return f"{actor.role.value} {actor.name}"


# Service levels and priorities ----------------------------------------------------------------


def priority_for(
    *, level: SeverityLevel, service_level: str, policy: MaintenancePolicy = DEFAULT_POLICY
) -> Priority:
    """Priority from the alert's severity, moved by the service level (raised for premium and
    lowered for basic customers with the default policy)."""
    rank = _BASE_PRIORITY[level] + policy.service_level(service_level).priority_shift
    return Priority(f"P{min(4, max(1, rank))}")


def due_after(
    *, service_level: str, priority: Priority, policy: MaintenancePolicy = DEFAULT_POLICY
) -> timedelta:
    """How long the service level gives to resolve a ticket of this priority."""
    return policy.service_level(service_level).due[priority]


# Tickets --------------------------------------------------------------------------------------


def _ticket_query(actor: Actor) -> Select[Any]:
    query = select(MaintenanceTicket)
    if actor.role is Role.PLANT:
        query = query.where(MaintenanceTicket.unit_id == actor.unit_id)
    elif actor.role is Role.TECHNICIAN:
        query = query.where(MaintenanceTicket.assignee_id == actor.technician_id)
    elif actor.role is Role.CUSTOMER:
        query = query.where(MaintenanceTicket.customer_id == actor.customer_id)
    return query


def list_tickets(
    *,
    session: Session,
    actor: Actor,
    status: Sequence[TicketStatus] = (),
    unit_id: str | None = None,
    asset: str | None = None,
    kind: str | None = None,
    limit: int = 500,
) -> list[MaintenanceTicket]:
    query = _ticket_query(actor)
    if status:
        query = query.where(MaintenanceTicket.status.in_(status))
    if unit_id is not None:
        query = query.where(MaintenanceTicket.unit_id == unit_id)
    if asset is not None:
        query = query.where(MaintenanceTicket.asset == asset)
    if kind is not None:
        try:
            query = query.where(MaintenanceTicket.kind == TicketKind(kind))
        except ValueError:
            return []  # no ticket is of a kind that does not exist

    query = query.order_by(MaintenanceTicket.id.desc()).limit(limit)
    return list(session.scalars(query))


def get_ticket(*, session: Session, actor: Actor, ticket_id: int) -> MaintenanceTicket:
    ticket = session.scalars(_ticket_query(actor).where(MaintenanceTicket.id == ticket_id)).first()
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} does not exist")
    return ticket


def open_ticket_for(
    *, session: Session, unit_id: str, asset: str, plan_id: int | None = None
) -> MaintenanceTicket | None:
    """The asset's open corrective ticket (or the plan's open preventive one)."""
    query = select(MaintenanceTicket).where(
        MaintenanceTicket.unit_id == unit_id,
        MaintenanceTicket.asset == asset,
        MaintenanceTicket.status.in_(OPEN_STATUSES),
    )
    if plan_id is None:
        query = query.where(MaintenanceTicket.plan_id.is_(None))
    else:
        query = query.where(MaintenanceTicket.plan_id == plan_id)
    return session.scalars(query.order_by(MaintenanceTicket.id)).first()


def record(
    *,
    session: Session,
    ticket: MaintenanceTicket,
    at: datetime,
    kind: str,
    detail: str = "",
    actor: str = SYSTEM,
    audience: Audience = Audience.INTERNAL,
) -> None:
    """Add a line to the ticket's timeline (by ``actor``: the coordinator itself by default),
    for the network's people only unless ``audience`` says the customer may read it too."""
    session.add(
        TicketEvent(
            ticket_id=ticket.id,
            at=at,
            actor=actor,
            kind=kind,
            detail=detail[:2000],
            audience=audience,
        )
    )


def timeline(*, session: Session, ticket_id: int, actor: Actor | None = None) -> list[TicketEvent]:
    """The ticket's timeline; for a customer ``actor`` only the lines meant for customers."""
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    if actor is not None and actor.role is Role.CUSTOMER:
        query = query.where(TicketEvent.audience == Audience.CUSTOMER)
    return list(session.scalars(query.order_by(TicketEvent.at, TicketEvent.id)))


def repair_minutes(ticket: MaintenanceTicket) -> float | None:
    if ticket.resolved_at is None:
        return None
    return round((ticket.resolved_at - ticket.failed_at).total_seconds() / 60, 2)


def require_assignee_or_coordinator(actor: Actor, ticket: MaintenanceTicket) -> None:
    if actor.role is Role.COORDINATOR:
        return
    if actor.role is Role.TECHNICIAN and ticket.assignee_id == actor.technician_id:
        return
    raise PermissionDenied("only the assigned technician or the coordinator may do this")


def move(
    *,
    session: Session,
    ticket: MaintenanceTicket,
    status: TicketStatus,
    allowed_from: Sequence[TicketStatus],
    at: datetime,
    actor: str,
    detail: str = "",
) -> bool:
    """Change the status (recorded on the timeline, where the customer may read it with its
    ``detail``, e.g. the resolution); False when already there (idempotent)."""
    if ticket.status == status:
        return False
    if ticket.status not in allowed_from:
        raise Conflict(f"ticket {ticket.id} is {ticket.status}; cannot become {status.value}")
    ticket.status = status
    record(
        session=session,
        ticket=ticket,
        at=at,
        actor=actor,
        kind=status.value,
        detail=detail,
        audience=Audience.CUSTOMER,
    )
    return True


def add_note(
    *,
    session: Session,
    actor: Actor,
    ticket_id: int,
    text: str,
    at: datetime,
    audience: Audience = Audience.INTERNAL,
) -> None:
    """A note on the timeline; a customer's own notes are always for the customer."""
    ticket = get_ticket(session=session, actor=actor, ticket_id=ticket_id)
    if actor.role is Role.CUSTOMER:
        audience = Audience.CUSTOMER
    record(
        session=session,
        ticket=ticket,
        at=at,
        actor=actor_label(actor),
        kind="note",
        detail=text,
        audience=audience,
    )


def add_parts(
    *,
    session: Session,
    ticket: MaintenanceTicket,
    parts: Sequence[dict[str, Any]],
    actor: str,
    at: datetime,
) -> None:
    if not parts:
        return
    ticket.parts_used = [*ticket.parts_used, *parts]
    listed = ", ".join(f"{p['quantity']:g} x {p['part']}" for p in parts)
    record(session=session, ticket=ticket, at=at, actor=actor, kind="parts", detail=listed)


def open_load(*, session: Session) -> dict[str, int]:
    """Open tickets per technician."""
    query = (
        select(MaintenanceTicket.assignee_id, func.count())
        .where(
            MaintenanceTicket.assignee_id.is_not(None),
            MaintenanceTicket.status.in_(OPEN_STATUSES),
        )
        .group_by(MaintenanceTicket.assignee_id)
    )
    return {str(tech): int(count) for tech, count in session.execute(query)}


def current_jobs(*, session: Session) -> dict[str, tuple[str, str]]:
    """Technician → (unit, asset) of the ticket they are working on now."""
    query = select(MaintenanceTicket).where(
        MaintenanceTicket.status == TicketStatus.IN_PROGRESS,
        MaintenanceTicket.assignee_id.is_not(None),
    )
    return {str(t.assignee_id): (t.unit_id, t.asset) for t in session.scalars(query)}


# Service areas --------------------------------------------------------------------------------


def service_areas(*, session: Session) -> dict[str, frozenset[str]]:
    return {
        row.unit_id: frozenset(row.served_units) for row in session.scalars(select(ServiceArea))
    }


def set_service_area(
    *, session: Session, actor: Actor, unit_id: str, served_units: Sequence[str]
) -> ServiceArea:
    require_role(actor, Role.COORDINATOR)
    for served in (unit_id, *served_units):
        if session.get(Unit, served) is None:
            raise InvalidInput(f"unit {served!r} does not exist")
    row = session.merge(ServiceArea(unit_id=unit_id, served_units=sorted(set(served_units))))
    session.flush()
    return row
