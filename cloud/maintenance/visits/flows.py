"""Re-planning the network's technician routes from the database, in the caller's transaction.

A re-plan reads the open tickets that need a visit and the technicians, plans them with
:func:`planner.plan_routes` (started from today's greedy rule), rewrites every
:class:`RouteStop`, and assigns the tickets it was allowed to move, with the route as the reason
on the ticket's timeline. Which tickets may move:

- a new ticket, or one escalated away from its technician: any eligible technician but those
  who had it;
- when a visit runs past its planned end: that technician's tickets not yet acknowledged;
- every other ticket stays with its technician (acknowledged work is not taken away, and
  nobody is re-notified at every re-plan); only its time in the route changes.

The worker calls :func:`replan_if_due` every round: it re-plans when a visit runs long, and
when the stored routes no longer match the assigned tickets (resolved, re-assigned by hand).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from cloud.maintenance.assets import asset_info
from cloud.maintenance.assignment import Location, TechnicianProfile
from cloud.maintenance.tickets.models import OPEN_STATUSES, MaintenanceTicket, TicketStatus
from cloud.maintenance.visits.greedy import greedy_plan
from cloud.maintenance.visits.models import RouteStop
from cloud.maintenance.visits.planner import plan_routes
from cloud.maintenance.visits.problem import (
    RouteOptions,
    RoutePlan,
    RouteProblem,
    Stop,
    Visit,
)

_LOGGER = logging.getLogger(__name__)
HOME = "home"
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class Replan:
    """A re-plan's outcome: the plan, and for every ticket it was allowed to move, the
    technician (or None when dropped) and the sentence for the timeline."""

    plan: RoutePlan
    moves: dict[int, tuple[str | None, str]]


def replan(
    session: Session,
    *,
    network_id: str,
    technicians: Sequence[TechnicianProfile],
    now: datetime,
    options: RouteOptions,
    release: Collection[int] = (),
    exclude: dict[int, frozenset[str]] | None = None,
    running_long: Collection[str] = (),
    quick: bool = False,
) -> Replan:
    """Plan the network's visits again; tickets in ``release`` may go to any eligible
    technician but those in ``exclude`` (and their previous ones). ``quick``: one ticket's
    insertion in the caller's request or ingest batch, with a shorter search."""
    _serialise(session, network_id)
    tickets = _open_tickets(session, network_id)
    by_id = {t.id: t for t in tickets}
    busy_until: dict[str, datetime] = {}
    on_site: dict[str, MaintenanceTicket] = {}  # where each technician is: the last started
    stored = {s.ticket_id: s for s in _stops(session, list(by_id))}
    started = sorted(
        (t for t in tickets if t.status == TicketStatus.IN_PROGRESS and t.assignee_id),
        key=lambda t: t.started_at or now,
    )
    for ticket in started:
        tech = str(ticket.assignee_id)
        on_site[tech] = ticket
        ends = _busy_until(ticket, stored.get(ticket.id), now, options, tech in running_long)
        busy_until[tech] = max(ends, busy_until.get(tech, ends))
    visits = [
        _visit(session, ticket, options, ticket.id in release, (exclude or {}).get(ticket.id))
        for ticket in tickets
        if ticket.status != TicketStatus.IN_PROGRESS
        and (ticket.assignee_id is not None or ticket.id in release)
    ]
    problem = RouteProblem(
        visits, technicians, now, busy_until=busy_until, horizon_days=options.horizon_days
    )
    limit = options.time_limit(len(visits))
    plan = plan_routes(
        problem,
        time_limit=min(limit, options.quick_solve_time) if quick else limit,
        start_from=greedy_plan(problem),
    )
    unplanned = {}  # assigned tickets the plan has no place for
    for visit_id, reason in plan.dropped.items():
        assignee = by_id[int(visit_id)].assignee_id
        if assignee is not None:
            unplanned[int(visit_id)] = (assignee, reason)
    _store(session, network_id, plan, started, on_site, busy_until, unplanned, by_id, now)
    moves = {
        ticket_id: _why(plan, problem, ticket_id, by_id)
        for ticket_id in release
        if ticket_id in by_id
    }
    _LOGGER.info(
        "routes re-planned: %d visit(s), %d dropped, %.0f ms",
        len(visits),
        len(plan.dropped),
        plan.solve_seconds * 1000,
    )
    return Replan(plan, moves)


def replan_if_due(
    session: Session,
    *,
    network_id: str,
    technicians: Callable[[], Sequence[TechnicianProfile]],
    now: datetime,
    options: RouteOptions,
) -> Replan | None:
    """Re-plan when a visit runs past its planned end (its technician's unacknowledged tickets
    may move), or when the routes no longer match the tickets (one resolved, started,
    re-assigned by hand); otherwise nothing (three small queries, and ``technicians`` is not
    even called). A ticket the planner could not place keeps a row with the reason, so it
    does not make every round re-plan."""
    tickets = [t for t in _open_tickets(session, network_id) if t.assignee_id is not None]
    stops = _stops(session, [t.id for t in tickets])
    ended = {s.ticket_id: s.end_at for s in stops if s.in_progress}
    running_long = {
        str(t.assignee_id)
        for t in tickets
        if t.status == TicketStatus.IN_PROGRESS and t.id in ended and ended[t.id] <= now
    }
    planned = {(s.ticket_id, s.technician_id, s.in_progress) for s in stops}
    assigned = {(t.id, str(t.assignee_id), t.status == TicketStatus.IN_PROGRESS) for t in tickets}
    if running_long:
        release = [
            t.id
            for t in tickets
            if t.assignee_id in running_long and t.status == TicketStatus.ASSIGNED
        ]
        _LOGGER.info("visit(s) of %s running long: re-planning", ", ".join(sorted(running_long)))
        return replan(
            session,
            network_id=network_id,
            technicians=technicians(),
            now=now,
            options=options,
            release=release,
            running_long=running_long,
        )
    if planned != assigned or _stale(session, network_id, {t.id for t in tickets}):
        return replan(
            session, network_id=network_id, technicians=technicians(), now=now, options=options
        )
    return None


def _serialise(session: Session, network_id: str) -> None:
    """One re-plan of a network at a time (PostgreSQL: a transaction advisory lock, released
    at commit), so that two workers never rewrite the same stops at once; SQLite serialises
    writers anyway."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(f"routes/{network_id}".encode()).digest()[:8], "big")
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key - (1 << 63)})


def _open_tickets(session: Session, network_id: str) -> list[MaintenanceTicket]:
    query = (
        select(MaintenanceTicket)
        .where(
            MaintenanceTicket.network_id == network_id,
            MaintenanceTicket.status.in_(OPEN_STATUSES),
            MaintenanceTicket.asset_kind != "unit",
        )
        .order_by(MaintenanceTicket.opened_at, MaintenanceTicket.id)
    )
    return list(session.scalars(query))


def _stops(session: Session, ticket_ids: Sequence[int]) -> list[RouteStop]:
    if not ticket_ids:
        return []
    return list(session.scalars(select(RouteStop).where(RouteStop.ticket_id.in_(ticket_ids))))


def _stale(session: Session, network_id: str, open_ids: set[int]) -> bool:
    """A stop left for a ticket that is no longer open (resolved, closed)."""
    query = (
        select(RouteStop.ticket_id)
        .join(MaintenanceTicket, MaintenanceTicket.id == RouteStop.ticket_id)
        .where(MaintenanceTicket.network_id == network_id)
    )
    return any(ticket_id not in open_ids for ticket_id in session.scalars(query))


def _busy_until(
    ticket: MaintenanceTicket,
    stop: RouteStop | None,
    now: datetime,
    options: RouteOptions,
    running_long: bool,
) -> datetime:
    """When the technician on this visit should be done: as planned, or (running long) the
    overrun from now."""
    if running_long:
        return now + options.overrun
    if stop is not None and stop.in_progress:
        return max(now, stop.end_at)
    started = ticket.started_at or now
    return max(now, started + timedelta(minutes=options.duration(ticket.kind)))


def _visit(
    session: Session,
    ticket: MaintenanceTicket,
    options: RouteOptions,
    free: bool,
    excluded: frozenset[str] | None,
) -> Visit:
    info = asset_info(session=session, unit_id=ticket.unit_id, asset=ticket.asset)
    return Visit(
        id=str(ticket.id),
        site=site_name(ticket),
        unit=ticket.unit_id,
        location=Location(info.latitude, info.longitude),
        skill=ticket.skill,
        duration_minutes=options.duration(ticket.kind),
        due=ticket.due_at,
        priority=ticket.priority,
        technician=None if free else ticket.assignee_id,
        excluded=frozenset(ticket.previous_assignees) | (excluded or frozenset()),
    )


def site_name(ticket: MaintenanceTicket) -> str:
    """Where the technician goes: the plant, or the customer's product itself."""
    return ticket.asset if ticket.asset_kind == "product" else ticket.unit_id


def _store(
    session: Session,
    network_id: str,
    plan: RoutePlan,
    started: list[MaintenanceTicket],
    on_site: dict[str, MaintenanceTicket],
    busy_until: dict[str, datetime],
    unplanned: dict[int, tuple[str, str]],
    tickets: dict[int, MaintenanceTicket],
    now: datetime,
) -> None:
    network_tickets = select(MaintenanceTicket.id).where(MaintenanceTicket.network_id == network_id)
    session.execute(delete(RouteStop).where(RouteStop.ticket_id.in_(network_tickets)))
    for ticket in started:
        technician = str(ticket.assignee_id)
        began = ticket.started_at or now
        session.add(
            RouteStop(
                ticket_id=ticket.id,
                technician_id=technician,
                sequence=0,
                site=site_name(ticket),
                came_from="",
                arrive_at=began,
                start_at=began,
                end_at=busy_until[technician],
                travel_minutes=0,
                distance_km=0.0,
                late_minutes=max(0, (busy_until[technician] - ticket.due_at) // MINUTE),
                in_progress=True,
                planned_at=now,
            )
        )
    counted: dict[str, int] = {}
    for route in plan.routes:  # in technician and day order
        here = on_site.get(route.technician) if route.day == 0 else None
        previous = site_name(here) if here is not None else HOME
        for stop in route.stops:
            counted[route.technician] = sequence = counted.get(route.technician, 0) + 1
            session.add(_row(route.technician, sequence, stop, previous, now))
            previous = stop.site
    for ticket_id, (technician, reason) in unplanned.items():
        session.add(
            RouteStop(
                ticket_id=ticket_id,
                technician_id=technician,
                sequence=0,
                site=site_name(tickets[ticket_id]),
                came_from="",
                arrive_at=now,
                start_at=now,
                end_at=now,
                travel_minutes=0,
                distance_km=0.0,
                late_minutes=0,
                in_progress=False,
                planned_at=now,
                unplanned=reason[:500],
            )
        )
    session.flush()


def _row(technician: str, sequence: int, stop: Stop, came_from: str, now: datetime) -> RouteStop:
    return RouteStop(
        ticket_id=int(stop.visit),
        technician_id=technician,
        sequence=sequence,
        site=stop.site,
        came_from=came_from,
        arrive_at=stop.arrive,
        start_at=stop.start,
        end_at=stop.end,
        travel_minutes=stop.travel_minutes,
        distance_km=stop.distance_km,
        late_minutes=stop.late_minutes,
        in_progress=False,
        planned_at=now,
    )


def _why(
    plan: RoutePlan, problem: RouteProblem, ticket_id: int, tickets: dict[int, MaintenanceTicket]
) -> tuple[str | None, str]:
    key = str(ticket_id)
    if key in plan.dropped:
        return None, plan.dropped[key]
    for route in plan.routes:
        for position, stop in enumerate(route.stops, start=1):
            if stop.visit != key:
                continue
            due = tickets[ticket_id].due_at
            timing = "on time" if stop.late_minutes == 0 else f"{stop.late_minutes} min late"
            return route.technician, (
                f"{route.technician} (route: visit {position} of {len(route.stops)} on"
                f" {stop.start:%a %d %b}, arrives {stop.arrive:%H:%M} after"
                f" {stop.travel_minutes} min drive ({stop.distance_km:g} km); due"
                f" {due:%a %H:%M}, {timing}; {len(problem.visits)} visit(s) re-planned)"
            )
    return None, "not in the plan"
