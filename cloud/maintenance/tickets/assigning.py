"""Who takes a ticket: the re-plan of the technicians' routes that assigns it, the
coordinator's override, and the reminders and escalation of tickets nobody acknowledges
(run on the maintenance worker's clock, with the re-plan of routes that run long)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.exceptions import Conflict, InvalidInput
from cloud.maintenance import assignment
from cloud.maintenance.assets import asset_info
from cloud.maintenance.config import DEFAULT_POLICY, MaintenancePolicy
from cloud.maintenance.escalation import EscalationAction, EscalationState, due_actions
from cloud.maintenance.events import LiveEvent, ticket_event
from cloud.maintenance.tickets import service
from cloud.maintenance.tickets.models import OPEN_STATUSES, MaintenanceTicket, TicketStatus
from cloud.maintenance.tickets.service import SYSTEM
from cloud.maintenance.visits import flows as visit_flows
from cloud.maintenance.visits.problem import RouteOptions
from cloud.maintenance.webhooks.flows import notify
from cloud.registry.models import Technician, Unit
from protocols.enums import AlertAction

_LOGGER = logging.getLogger(__name__)


ALWAYS_ON_DUTY = assignment.WorkingHours(
    {day: (time(0), time(23, 59, 59, 999999)) for day in range(7)}
)


def _working_hours(rows: Sequence[dict[str, Any]]) -> assignment.WorkingHours:
    """Registry working hours; a technician without any is on call around the clock."""
    if not rows:
        return ALWAYS_ON_DUTY
    return assignment.WorkingHours(
        {
            int(row["weekday"]): (time.fromisoformat(row["start"]), time.fromisoformat(row["end"]))
            for row in rows
        }
    )


def candidates(session: Session, network_id: str) -> list[assignment.TechnicianProfile]:
    """The network's technicians as the assignment rules see them."""
    rows = session.execute(
        select(Technician, Unit)
        .join(Unit, Technician.employer_unit_id == Unit.id)
        .where(Unit.network_id == network_id)
    )
    load = service.open_load(session=session)
    jobs = service.current_jobs(session=session)
    areas = service.service_areas(session=session)
    result = []
    for tech, unit in rows:
        job = jobs.get(tech.id)
        here = None
        if job is not None:
            where = asset_info(session=session, unit_id=job[0], asset=job[1])
            here = assignment.Location(where.latitude, where.longitude)
        served = areas.get(unit.id, frozenset())
        result.append(
            assignment.TechnicianProfile(
                id=tech.id,
                skills=frozenset(tech.skills),
                home=assignment.Location(tech.home_latitude, tech.home_longitude),
                working_hours=_working_hours(tech.working_hours),
                employer_unit=unit.id,
                service_units=served | {unit.id} if served else frozenset(),
                open_tickets=load.get(tech.id, 0),
                current_location=here,
            )
        )
    return result


def assign_best(
    session: Session,
    ticket: MaintenanceTicket,
    now: datetime,
    action: AlertAction = AlertAction.NEW,
    options: RouteOptions | None = None,
) -> list[LiveEvent]:
    """Re-plan the technicians' routes with this ticket free to go to any eligible technician
    not assigned before, and assign it to the one whose route it joins; tell the coordinator
    if it fits nobody's."""
    excluded = frozenset(t for t in (*ticket.previous_assignees, ticket.assignee_id) if t)
    outcome = visit_flows.replan(
        session,
        network_id=ticket.network_id,
        technicians=candidates(session, ticket.network_id),
        now=now,
        options=options or DEFAULT_POLICY.routes,
        release=[ticket.id],
        exclude={ticket.id: excluded},
        quick=True,
    )
    technician, why = outcome.moves.get(ticket.id, (None, "not planned"))
    if technician is None:
        service.record(
            session=session, ticket=ticket, at=now, kind="no_technician", detail=f"no route: {why}"
        )
        return escalate_to_coordinator(session, ticket, now, "no eligible technician")
    return assign(session, ticket, technician, now, actor=SYSTEM, action=action, why=why)


def assign(
    session: Session,
    ticket: MaintenanceTicket,
    technician_id: str,
    now: datetime,
    *,
    actor: str,
    action: AlertAction = AlertAction.NEW,
    why: str = "",
) -> list[LiveEvent]:
    if ticket.status not in OPEN_STATUSES:
        raise Conflict(f"ticket {ticket.id} is {ticket.status}; it cannot be assigned")
    events = []
    previous = ticket.assignee_id
    if previous and previous != technician_id:
        ticket.previous_assignees = [*ticket.previous_assignees, previous]
        events.append(
            ticket_event(ticket, "reassigned", technician_id=previous)
        )  # their inbox drops it
    ticket.assignee_id = technician_id
    ticket.status = TicketStatus.ASSIGNED
    ticket.acknowledged_at = None
    if ticket.escalation_started_at is None:
        ticket.escalation_started_at = now
    service.record(
        session=session,
        ticket=ticket,
        at=now,
        actor=actor,
        kind="assigned",
        detail=why or technician_id,
    )
    return [*events, *notify(session, ticket, action, now)]


def override_assignment(
    session: Session, *, actor: Actor, ticket_id: int, technician_id: str, now: datetime
) -> list[LiveEvent]:
    """The coordinator chooses the technician; the escalation clock starts again."""
    require_role(actor, Role.COORDINATOR)
    ticket = service.get_ticket(session=session, actor=actor, ticket_id=ticket_id)
    technician = session.get(Technician, technician_id)
    if technician is None:
        raise InvalidInput(f"technician {technician_id!r} does not exist")
    ticket.escalation_started_at = now
    ticket.reminders_sent = 0
    ticket.escalated_to_next = ticket.escalated_to_coordinator = False
    label = service.actor_label(actor)
    return assign(
        session, ticket, technician_id, now, actor=label, why=f"{technician_id} (override)"
    )


def escalate_to_coordinator(
    session: Session, ticket: MaintenanceTicket, now: datetime, reason: str
) -> list[LiveEvent]:
    ticket.escalated_to_coordinator = True
    service.record(
        session=session,
        ticket=ticket,
        at=now,
        kind="escalated",
        detail=f"to the coordinator: {reason}",
    )
    _LOGGER.warning("ticket %s escalated to the coordinator: %s", ticket.id, reason)
    return notify(session, ticket, AlertAction.ESCALATION, now, text=reason, to_assignee=False)


# Reminders and escalation -----------------------------------------------------------------------


def run_escalation(
    session: Session, *, now: datetime, policy: MaintenancePolicy = DEFAULT_POLICY
) -> list[LiveEvent]:
    """Remind, escalate to the next technician, then to the coordinator; retry assignment of
    tickets nobody could take."""
    events: list[LiveEvent] = []
    waiting = session.scalars(
        select(MaintenanceTicket)
        .where(MaintenanceTicket.status.in_((TicketStatus.OPEN, TicketStatus.ASSIGNED)))
        .with_for_update(skip_locked=True)
    )
    for ticket in list(waiting):
        if ticket.status is TicketStatus.OPEN:
            if ticket.escalated_to_coordinator:
                continue  # nobody eligible: the coordinator assigns by hand
            events.extend(assign_best(session, ticket, now, options=policy.routes))
            continue
        events.extend(_escalate(session, ticket, now, policy))
    return events


def _escalate(
    session: Session, ticket: MaintenanceTicket, now: datetime, policy: MaintenancePolicy
) -> list[LiveEvent]:
    assert ticket.escalation_started_at is not None
    state = EscalationState(
        assigned_at=ticket.escalation_started_at,
        acknowledged_at=ticket.acknowledged_at,
        reminders_sent=ticket.reminders_sent,
        escalated_to_next=ticket.escalated_to_next,
        escalated_to_coordinator=ticket.escalated_to_coordinator,
    )
    events: list[LiveEvent] = []
    for action in due_actions(state, now, policy.escalation):
        if action is EscalationAction.REMIND:
            waited = now - ticket.escalation_started_at
            ticket.reminders_sent = int(waited / policy.escalation.remind_every)
            service.record(
                session=session,
                ticket=ticket,
                at=now,
                kind="reminder",
                detail=f"to {ticket.assignee_id}",
            )
            events.extend(notify(session, ticket, AlertAction.REMINDER, now))
        elif action is EscalationAction.ESCALATE_TO_NEXT:
            ticket.escalated_to_next = True
            service.record(
                session=session,
                ticket=ticket,
                at=now,
                kind="escalated",
                detail="to the next technician",
            )
            events.extend(assign_best(session, ticket, now, AlertAction.ESCALATION, policy.routes))
        elif not ticket.escalated_to_coordinator:
            events.extend(escalate_to_coordinator(session, ticket, now, "nobody acknowledged"))
    return events


# Technician routes ------------------------------------------------------------------------------


def run_routes(
    session: Session, *, network: str, now: datetime, policy: MaintenancePolicy = DEFAULT_POLICY
) -> list[LiveEvent]:
    """Re-plan the routes when a visit runs long or the routes are out of date; a ticket the
    re-plan moves to another technician is re-assigned with the route as the reason."""
    outcome = visit_flows.replan_if_due(
        session,
        network_id=network,
        technicians=lambda: candidates(session, network),
        now=now,
        options=policy.routes,
    )
    if outcome is None:
        return []
    events: list[LiveEvent] = []
    for ticket_id, (technician, why) in sorted(outcome.moves.items()):
        ticket = session.get(MaintenanceTicket, ticket_id)
        if ticket is None or technician is None or technician == ticket.assignee_id:
            continue
        why = f"{why}; re-planned because {ticket.assignee_id}'s visit runs long"
        events.extend(assign(session, ticket, technician, now, actor=SYSTEM, why=why))
    routed = sorted({r.technician for r in outcome.plan.routes})
    return [*events, *(LiveEvent(action="route", technician_id=t) for t in routed)]
