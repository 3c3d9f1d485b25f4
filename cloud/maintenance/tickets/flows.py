"""The ticket lifecycle: opening (from an alert, a plan or by hand), acknowledging, starting,
resolving and closing, through the API, the pages or a technician's MQTT reply; and the
commands a ticket sends the unit's gateway (acknowledge its alarm conditions, repair).

Every flow runs inside the caller's transaction and takes ``now`` (an injectable clock
upstream), so the whole chain is deterministic in tests. Who takes a ticket is
:mod:`cloud.maintenance.tickets.assigning`'s."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.exceptions import CloudError, PermissionDenied
from cloud.maintenance import emails, routing
from cloud.maintenance.alerts import service as alert_service
from cloud.maintenance.assets import AssetInfo, asset_info
from cloud.maintenance.config import DEFAULT_POLICY, MaintenancePolicy
from cloud.maintenance.events import LiveEvent, ticket_event
from cloud.maintenance.plans import service as plan_service
from cloud.maintenance.tickets import service
from cloud.maintenance.tickets.assigning import assign_best
from cloud.maintenance.tickets.models import (
    OPEN_STATUSES,
    Audience,
    MaintenanceTicket,
    TicketCreate,
    TicketKind,
    TicketStatus,
)
from cloud.maintenance.webhooks.flows import notify
from cloud.maintenance.webhooks.service import ORIGIN
from cloud.maintenance.windows import service as window_service
from cloud.messaging import outbox as messaging_outbox
from cloud.registry.models import Machine
from protocols import messages
from protocols.enums import AlertAction, ReplyAction

_LOGGER = logging.getLogger(__name__)


def open_ticket(
    session: Session,
    *,
    info: AssetInfo,
    kind: TicketKind,
    title: str,
    description: str,
    severity: int,
    skill: str,
    now: datetime,
    actor: str,
    opened_by: str,
    plan_id: int | None = None,
    policy: MaintenancePolicy = DEFAULT_POLICY,
) -> tuple[MaintenanceTicket, list[LiveEvent]]:
    """A new ticket, assigned to the technician whose route it joins (or left open for the
    coordinator)."""
    priority = service.priority_for(
        level=routing.severity_level(severity), service_level=info.service_level, policy=policy
    )
    ticket = MaintenanceTicket(
        kind=kind,
        status=TicketStatus.OPEN,
        priority=priority,
        severity=severity,
        title=title[:200],
        description=description[:2000],
        network_id=info.network_id,
        unit_id=info.unit_id,
        asset=info.asset,
        asset_kind=info.asset_kind,
        customer_id=info.customer_id,
        service_level=info.service_level,
        skill=skill,
        previous_assignees=[],
        plan_id=plan_id,
        opened_at=now,
        failed_at=now,
        broke_down_at=now if _breaks_down(kind, severity, policy) else None,
        last_alert_at=now,
        incidents=1,
        due_at=now
        + service.due_after(service_level=info.service_level, priority=priority, policy=policy),
        reminders_sent=0,
        parts_used=[],
    )
    session.add(ticket)
    session.flush()
    service.record(
        session=session,
        ticket=ticket,
        at=now,
        actor=actor,
        kind="opened",
        detail=f"{kind.value}, {priority}: {opened_by}",
        audience=Audience.CUSTOMER,
    )
    _LOGGER.info("ticket %s opened for %s/%s (%s)", ticket.id, info.unit_id, info.asset, priority)
    assigned = assign_best(session, ticket, now, options=policy.routes)
    if ticket.assignee_id is None:  # the assignment's notice tells the customer otherwise
        emails.tell_customer(session, ticket, now, origin=ORIGIN)
    return ticket, [ticket_event(ticket, "opened"), *assigned]


def _breaks_down(kind: TicketKind, severity: int, policy: MaintenancePolicy) -> bool:
    return kind is TicketKind.CORRECTIVE and severity >= policy.breakdown_severity


def record_breakdown(
    session: Session,
    ticket: MaintenanceTicket,
    *,
    severity: int,
    now: datetime,
    policy: MaintenancePolicy = DEFAULT_POLICY,
) -> bool:
    """Mark the ticket's asset as broken down from ``now`` when an alarm of this severity is
    its first at the breakdown level; True when it was."""
    if ticket.broke_down_at is not None or not _breaks_down(ticket.kind, severity, policy):
        return False
    ticket.broke_down_at = now
    service.record(
        session=session,
        ticket=ticket,
        at=now,
        kind="breakdown",
        detail=f"severity {severity}: the asset counts as down until the ticket is resolved",
    )
    return True


def create_ticket(
    session: Session,
    *,
    actor: Actor,
    spec: TicketCreate,
    now: datetime,
    policy: MaintenancePolicy = DEFAULT_POLICY,
) -> tuple[MaintenanceTicket, list[LiveEvent]]:
    """A ticket opened by a person (the coordinator, or a plant for its own assets)."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    if actor.role is Role.PLANT and spec.unit_id != actor.unit_id:
        raise PermissionDenied("a plant opens tickets for its own assets only")
    info = asset_info(session=session, unit_id=spec.unit_id, asset=spec.asset, policy=policy)
    return open_ticket(
        session,
        info=info,
        kind=spec.kind,
        title=spec.title,
        description=spec.description,
        severity=spec.severity,
        skill=spec.skill or info.skill_override or policy.default_skill,
        now=now,
        actor=service.actor_label(actor),
        opened_by="opened by hand",
        policy=policy,
    )


def acknowledge(
    session: Session, ticket: MaintenanceTicket, now: datetime, actor: str
) -> list[LiveEvent]:
    if service.move(
        session=session,
        ticket=ticket,
        status=TicketStatus.ACKNOWLEDGED,
        allowed_from=(TicketStatus.ASSIGNED,),
        at=now,
        actor=actor,
    ):
        ticket.acknowledged_at = now
        acknowledge_command(session, ticket, now, actor)
    return [ticket_event(ticket, "acknowledged")]


def start_work(
    session: Session, ticket: MaintenanceTicket, now: datetime, actor: str
) -> list[LiveEvent]:
    if service.move(
        session=session,
        ticket=ticket,
        status=TicketStatus.IN_PROGRESS,
        allowed_from=(TicketStatus.ASSIGNED, TicketStatus.ACKNOWLEDGED),
        at=now,
        actor=actor,
    ):
        if ticket.acknowledged_at is None:
            ticket.acknowledged_at = now
            acknowledge_command(session, ticket, now, actor)
        ticket.started_at = now
    return [ticket_event(ticket, "in_progress")]


def resolve(
    session: Session,
    ticket: MaintenanceTicket,
    now: datetime,
    actor: str,
    *,
    note: str = "",
    parts: Sequence[dict[str, Any]] = (),
    by_assignee: bool = False,
) -> list[LiveEvent]:
    """Resolved: MTTR is recorded, windows end, the plan restarts and the gateway repairs."""
    moved = service.move(
        session=session,
        ticket=ticket,
        status=TicketStatus.RESOLVED,
        allowed_from=OPEN_STATUSES,
        at=now,
        actor=actor,
        detail=note,
    )
    if not moved:
        return [ticket_event(ticket, "resolved")]
    ticket.resolved_at = now
    ticket.acknowledged_at = ticket.acknowledged_at or now
    service.add_parts(session=session, ticket=ticket, parts=parts, actor=actor, at=now)
    window_service.end_windows_of_ticket(session=session, ticket_id=ticket.id, at=now)
    plan_service.plan_done(session=session, ticket=ticket, now=now)
    events = repair_command(session, ticket, now)
    minutes = service.repair_minutes(ticket)
    service.record(
        session=session, ticket=ticket, at=now, kind="repair_time", detail=f"{minutes} minutes"
    )
    _LOGGER.info("ticket %s resolved after %s minutes", ticket.id, minutes)
    if by_assignee:
        return [*events, *notify(session, ticket, AlertAction.RESOLVED, now, to_assignee=False)]
    return [*events, *notify(session, ticket, AlertAction.RESOLVED, now)]


def close(session: Session, *, actor: Actor, ticket_id: int, now: datetime) -> list[LiveEvent]:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    ticket = service.get_ticket(session=session, actor=actor, ticket_id=ticket_id)
    if service.move(
        session=session,
        ticket=ticket,
        status=TicketStatus.CLOSED,
        allowed_from=(TicketStatus.RESOLVED,),
        at=now,
        actor=service.actor_label(actor),
    ):
        ticket.closed_at = now
    return [ticket_event(ticket, "closed")]


def technician_action(
    session: Session,
    *,
    actor: Actor,
    ticket_id: int,
    action: ReplyAction,
    now: datetime,
    note: str = "",
    parts: Sequence[dict[str, Any]] = (),
) -> list[LiveEvent]:
    """Acknowledge, start or resolve through the API or the pages."""
    ticket = service.get_ticket(session=session, actor=actor, ticket_id=ticket_id)
    service.require_assignee_or_coordinator(actor, ticket)
    by_assignee = actor.role is Role.TECHNICIAN
    return _apply_action(
        session, ticket, action, now, service.actor_label(actor), note, parts, by_assignee
    )


def _apply_action(
    session: Session,
    ticket: MaintenanceTicket,
    action: ReplyAction,
    now: datetime,
    actor: str,
    note: str,
    parts: Sequence[dict[str, Any]],
    by_assignee: bool,
) -> list[LiveEvent]:
    if action is ReplyAction.RESOLVE:
        return resolve(session, ticket, now, actor, note=note, parts=parts, by_assignee=by_assignee)
    if note:
        service.record(
            session=session, ticket=ticket, at=now, actor=actor, kind="note", detail=note
        )
    if action is ReplyAction.ACKNOWLEDGE:
        return acknowledge(session, ticket, now, actor)
    return start_work(session, ticket, now, actor)


def handle_reply(
    session: Session, *, technician: str, reply: messages.TechnicianReply, now: datetime
) -> list[LiveEvent]:
    """A technician's MQTT reply, decoded and de-duplicated by the ingest (``technician`` is
    the topic's, which the ingest checked against the sender); replies about tickets not
    assigned to them are ignored."""
    ticket_id = parse_ticket_id(reply.body.ticket_id)
    ticket = session.get(MaintenanceTicket, ticket_id) if ticket_id is not None else None
    if ticket is None or ticket.assignee_id != technician:
        _LOGGER.warning(
            "technician %s replied about ticket %r not theirs", technician, reply.body.ticket_id
        )
        return []
    try:
        return _apply_action(
            session,
            ticket,
            reply.body.action,
            now,
            f"technician {technician} (device)",
            reply.body.note,
            (),
            True,
        )
    except CloudError as exc:
        _LOGGER.warning("technician %s reply not applied: %s", technician, exc.message)
        return []


TICKET_ID_MAX = 2**31 - 1
"""Ticket ids are INTEGER keys."""


def parse_ticket_id(text: str) -> int | None:
    """The ticket id ``text`` names: ASCII digits within the id column's range, else None
    (``"²".isdigit()`` is true, yet ``int("²")`` fails)."""
    if not (0 < len(text) <= 10 and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value <= TICKET_ID_MAX else None


# Commands to the unit's gateway -----------------------------------------------------------------


def _reports(session: Session, ticket: MaintenanceTicket) -> bool:
    """Whether the ticket's asset is one the unit's gateway announced (or was registered)."""
    query = select(Machine.id).where(
        Machine.unit_id == ticket.unit_id, Machine.machine == ticket.asset
    )
    return session.scalars(query).first() is not None


def repair_command(session: Session, ticket: MaintenanceTicket, now: datetime) -> list[LiveEvent]:
    """Ask the unit's gateway to run the machine's Repair method (wear resets)."""
    body = messages.RepairCommand(machine=ticket.asset, ticket_id=str(ticket.id))
    _command(session, ticket, now, body, "repair")
    return []


def acknowledge_command(
    session: Session, ticket: MaintenanceTicket, now: datetime, actor: str
) -> list[LiveEvent]:
    """Ask the unit's gateway to acknowledge the ticket's OPC UA alarm conditions (Acknowledge)."""
    codes = alert_service.condition_codes(session=session, ticket_id=ticket.id)
    if codes:
        body = messages.AcknowledgeCommand(
            machine=ticket.asset, codes=codes[:64], ticket_id=str(ticket.id), comment=actor[:200]
        )
        _command(session, ticket, now, body, "acknowledge")
    return []


def _command(
    session: Session,
    ticket: MaintenanceTicket,
    now: datetime,
    body: messages.RepairCommand | messages.AcknowledgeCommand,
    action: str,
) -> None:
    if ticket.asset_kind not in ("machine", "product") or not _reports(session, ticket):
        return  # a unit, or a delivered product no field gateway reports: nobody to command
    command = messaging_outbox.command(
        session,
        origin=ORIGIN,
        subject=str(ticket.id),
        network=ticket.network_id,
        unit=ticket.unit_id,
        body=body,
        now=now,
    )
    detail = f"{action.capitalize()} sent to {command.topic}"
    service.record(session=session, ticket=ticket, at=now, kind=f"{action}_command", detail=detail)
