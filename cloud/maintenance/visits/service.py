"""Reading a technician's planned day: a technician sees only their own, the coordinator
anyone's."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.exceptions import NotFound
from cloud.maintenance.tickets.models import OPEN_STATUSES, MaintenanceTicket
from cloud.maintenance.visits.models import RouteStop, RouteStopRead, TechnicianDay, UnplannedRead
from cloud.registry.models import Technician


def technician_day(*, session: Session, actor: Actor, technician_id: str) -> TechnicianDay:
    """The technician's next working day of visits (the visit they are on first), with the
    ``next`` line their phone shows; 404 for another technician's day, as for their tickets."""
    require_role(actor, Role.COORDINATOR, Role.TECHNICIAN)
    hidden = NotFound(f"technician {technician_id!r} does not exist")
    if actor.role is Role.TECHNICIAN and actor.technician_id != technician_id:
        raise hidden
    if session.get(Technician, technician_id) is None:
        raise hidden
    rows = session.execute(
        select(RouteStop, MaintenanceTicket)
        .join(MaintenanceTicket, MaintenanceTicket.id == RouteStop.ticket_id)
        .where(
            RouteStop.technician_id == technician_id,
            MaintenanceTicket.status.in_(OPEN_STATUSES),
        )
        .order_by(RouteStop.sequence)
    ).all()
    stops = [_read(stop, ticket) for stop, ticket in rows if stop.unplanned is None]
    unplanned = [
        UnplannedRead(ticket_id=ticket.id, title=ticket.title, reason=stop.unplanned)
        for stop, ticket in rows
        if stop.unplanned is not None
    ]
    planned_at = max((stop.planned_at for stop, _ in rows), default=None)
    if not stops:
        return TechnicianDay(
            technician_id=technician_id,
            day=None,
            next=None,
            stops=[],
            later=0,
            unplanned=unplanned,
            planned_at=planned_at,
        )
    day = stops[0].start_at.date()
    today = [s for s in stops if s.start_at.date() == day]
    upcoming = next((s for s in stops if not s.in_progress), None)
    return TechnicianDay(
        technician_id=technician_id,
        day=day,
        next=None if upcoming is None else next_line(upcoming),
        stops=today,
        later=len(stops) - len(today),
        unplanned=unplanned,
        planned_at=planned_at,
    )


def next_line(stop: RouteStopRead) -> str:
    """What the technician reads first: ``next: imola-welding at 10:40, 35 min drive``."""
    return f"next: {stop.site} at {stop.arrive_at:%H:%M}, {stop.travel_minutes} min drive"


def _read(stop: RouteStop, ticket: MaintenanceTicket) -> RouteStopRead:
    return RouteStopRead(
        ticket_id=ticket.id,
        title=ticket.title,
        unit_id=ticket.unit_id,
        asset=ticket.asset,
        priority=ticket.priority,
        due_at=ticket.due_at,
        site=stop.site,
        came_from=stop.came_from,
        arrive_at=stop.arrive_at,
        start_at=stop.start_at,
        end_at=stop.end_at,
        travel_minutes=stop.travel_minutes,
        distance_km=stop.distance_km,
        late_minutes=stop.late_minutes,
        in_progress=stop.in_progress,
    )
