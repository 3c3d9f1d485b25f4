"""Maintenance orchestration: alarms → alerts → routing → tickets → assignment → notifications,
and the ticket lifecycle (reminders, escalation, rules and plans are in :mod:`periodic`).

Every flow runs inside the caller's transaction and takes ``now`` (an injectable clock upstream),
so the whole chain is deterministic in tests. Messages to devices, webhooks and gateways are
written to the coordinator's outbox (:mod:`cloud.maintenance.outbox`) in the same transaction and
delivered by :mod:`cloud.messaging.delivery`; live page updates are returned as events for the
caller to broadcast.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.exceptions import CloudError, Conflict, InvalidInput, PermissionDenied
from cloud.maintenance import assignment, routing, service
from cloud.maintenance.config import MaintenancePolicy
from cloud.maintenance.models import (
    OPEN_STATUSES,
    AlertState,
    MaintenanceAlert,
    MaintenancePlan,
    MaintenanceTicket,
    Priority,
    TicketCreate,
    TicketKind,
    TicketStatus,
)
from cloud.maintenance.outbox import (
    EVENT_TYPE,
    Event,
    acknowledge_command,
    escalate_to_coordinator,
    event,
    notify,
    repair_command,
)
from cloud.maintenance.service import SYSTEM, AssetInfo
from cloud.maintenance.visits import flows as visit_flows
from cloud.maintenance.visits.problem import RouteOptions
from cloud.messaging.hooks import AppliedBatch, BatchHook
from cloud.network.models import UnitStatus
from cloud.operations.metrics import RULE_BUDGET_EXCEEDED
from cloud.registry.models import Technician, Unit
from cloud.telemetry.models import MetricRollup
from protocols import messages
from protocols.enums import AlarmState, AlertAction, ReplyAction

_LOGGER = logging.getLogger(__name__)
Clock = Callable[[], datetime]
ALWAYS_ON_DUTY = assignment.WorkingHours(
    {day: (time(0), time(23, 59, 59, 999999)) for day in range(7)}
)
DEFAULT_POLICY = MaintenancePolicy()


# Alarms and unit states → alerts ----------------------------------------------------------------


def handle_alarm(
    session: Session,
    *,
    network: str,
    unit_id: str,
    alarm: messages.AlarmEvent,
    now: datetime,
    policy: MaintenancePolicy = DEFAULT_POLICY,
    batch: dict[str, MaintenanceAlert] | None = None,
) -> list[Event]:
    """Create, update or resolve the alarm's alert and route it. ``batch`` holds the alerts
    already handled in the same ingest batch: their repeats are only counted (a flood of one
    alarm costs no queries)."""
    key = routing.fingerprint(network, unit_id, alarm.asset, alarm.code)
    seen = batch if batch is not None else {}
    if alarm.state is AlarmState.RAISED and key in seen:
        _count_repeat(seen[key], alarm, now)
        return []
    alert = seen.pop(key, None) or service.firing_alert(session=session, fingerprint=key)
    if alarm.state is AlarmState.CLEARED:
        return _resolve_alert(session, alert, now) if alert is not None else []
    info = service.asset_info(session=session, unit_id=unit_id, asset=alarm.asset)
    if alert is not None:
        _count_repeat(alert, alarm, now)
        seen[key] = alert
        if alert.ticket_id is None:  # suppressed so far: the silence or inhibition may be over
            return route_alert(session, alert, info, now, policy)
        return []
    level = routing.severity_level(alarm.severity)
    labels = {
        "network": network,
        "unit": unit_id,
        "asset": alarm.asset,
        "asset_kind": info.asset_kind,
        "code": alarm.code,
        "severity": level.value,
        "source": alarm.source.value,
    }
    if info.customer_id:
        labels["customer"] = info.customer_id
    alert = MaintenanceAlert(
        fingerprint=key,
        active_key=key,
        network_id=network,
        unit_id=unit_id,
        asset=alarm.asset,
        code=alarm.code,
        severity=alarm.severity,
        labels=labels,
        text=alarm.text,
        source=alarm.source.value,
        state=AlertState.FIRING.value,
        repeats=0,
        starts_at=now,
        last_seen_at=now,
    )
    session.add(alert)
    session.flush()
    seen[key] = alert
    return route_alert(session, alert, info, now, policy)


def _count_repeat(alert: MaintenanceAlert, alarm: messages.AlarmEvent, now: datetime) -> None:
    alert.repeats += 1
    alert.last_seen_at = now
    alert.severity = alarm.severity
    alert.text = alarm.text


def _resolve_alert(session: Session, alert: MaintenanceAlert, now: datetime) -> list[Event]:
    alert.state = AlertState.RESOLVED.value
    alert.active_key = None
    alert.resolved_at = now
    if alert.ticket_id is None:
        return []
    ticket = session.get(MaintenanceTicket, alert.ticket_id)
    if ticket is None:
        return []
    service.record(session, ticket, now, SYSTEM, "alert_cleared", f"{alert.code} cleared")
    return [event(ticket, "alert_cleared", code=alert.code)]


def handle_unit_state(
    session: Session, *, network: str, unit_id: str, now: datetime
) -> list[Event]:
    """Fire or resolve the unit-offline alert from the unit's stored state (after the ingest
    applied the state message or the will)."""
    status = session.get(UnitStatus, unit_id)
    if status is None:
        return []
    key = routing.fingerprint(network, unit_id, unit_id, routing.UNIT_OFFLINE_CODE)
    alert = service.firing_alert(session=session, fingerprint=key)
    if status.status == "online":
        if alert is not None:
            alert.state, alert.active_key, alert.resolved_at = AlertState.RESOLVED.value, None, now
            _LOGGER.info("unit %s is back online", unit_id)
        return []
    if alert is not None:
        alert.repeats += 1
        alert.last_seen_at = now
        return []
    _LOGGER.info("unit %s is offline: its machines' alerts are inhibited", unit_id)
    session.add(
        MaintenanceAlert(
            fingerprint=key,
            active_key=key,
            network_id=network,
            unit_id=unit_id,
            asset=unit_id,
            code=routing.UNIT_OFFLINE_CODE,
            severity=600,
            labels={
                "network": network,
                "unit": unit_id,
                "asset": unit_id,
                "asset_kind": "unit",
                "code": routing.UNIT_OFFLINE_CODE,
                "severity": routing.SeverityLevel.MAJOR.value,
                "source": "coordinator_rule",
            },
            text=f"unit {unit_id} is offline ({status.reason or 'no reason given'})",
            source="coordinator_rule",
            state=AlertState.FIRING.value,
            repeats=0,
            starts_at=now,
            last_seen_at=now,
        )
    )
    return [{"type": EVENT_TYPE, "action": "unit_offline", "unit_id": unit_id}]


def route_alert(
    session: Session,
    alert: MaintenanceAlert,
    info: AssetInfo,
    now: datetime,
    policy: MaintenancePolicy,
) -> list[Event]:
    """Silence, inhibit, or feed the asset's ticket (opening one when there is none)."""
    try:
        alert.suppressed_by = _suppression(session, alert, now, policy)
    except routing.RuleBudgetExceeded as exc:
        # A slow rule costs at most a notification too many, never a lost alarm.
        _LOGGER.warning("alert %s is routed unsuppressed: %s", alert.fingerprint, exc)
        RULE_BUDGET_EXCEEDED.inc()
        alert.suppressed_by = None
    if alert.suppressed_by is not None:
        return []
    ticket = service.open_ticket_for(session=session, unit_id=alert.unit_id, asset=alert.asset)
    if ticket is None:
        return _open_from_alert(session, alert, info, now, policy)
    return _join_ticket(session, ticket, alert, info, now, policy)


def _suppression(
    session: Session, alert: MaintenanceAlert, now: datetime, policy: MaintenancePolicy
) -> str | None:
    """What suppresses the alert (a silence of the network or of its own unit, or an
    inhibition rule), within the policy's rule budget."""
    silences = service.active_silences(session=session, at=now, unit_id=alert.unit_id)
    firing = [
        other.labels
        for other in service.firing_alerts_of_unit(session=session, unit_id=alert.unit_id)
        if other.id != alert.id
    ]
    # The budget covers the rules, not the queries: a slow database must not unsuppress alerts.
    budget = routing.RuleBudget(policy.rule_budget)
    silence = routing.silenced_by(alert.labels, silences, now, budget)
    if silence is not None:
        return f"silence {silence.silence_id}"
    rule = routing.inhibited_by(alert.labels, firing, policy.inhibit_rules, budget)
    return None if rule is None else f"inhibited: {rule.name}"


def _open_from_alert(
    session: Session,
    alert: MaintenanceAlert,
    info: AssetInfo,
    now: datetime,
    policy: MaintenancePolicy,
) -> list[Event]:
    ticket, events = open_ticket(
        session,
        info=info,
        kind=TicketKind.CORRECTIVE,
        title=f"{alert.code.replace('_', ' ')} on {alert.asset}",
        description=alert.text,
        severity=alert.severity,
        skill=info.skill_override or service.SKILL_BY_CODE.get(alert.code, service.DEFAULT_SKILL),
        now=now,
        actor=SYSTEM,
        opened_by=f"alert {alert.code} ({alert.fingerprint})",
        routes=policy.routes,
    )
    alert.ticket_id = ticket.id
    return events


def _join_ticket(
    session: Session,
    ticket: MaintenanceTicket,
    alert: MaintenanceAlert,
    info: AssetInfo,
    now: datetime,
    policy: MaintenancePolicy,
) -> list[Event]:
    alert.ticket_id = ticket.id
    same_incident = routing.joins_incident(ticket.last_alert_at, now, policy.group_window)
    ticket.last_alert_at = now
    priority = service.priority_for(routing.severity_level(alert.severity), info.service_level)
    raised = priority < Priority(ticket.priority)
    if raised:
        ticket.priority, ticket.severity = priority.value, max(ticket.severity, alert.severity)
        ticket.due_at = min(ticket.due_at, now + service.due_after(info.service_level, priority))
    detail = f"{alert.code}: {alert.text}" + (f"; priority raised to {priority}" if raised else "")
    service.record(session, ticket, now, SYSTEM, "alert", detail)
    if same_incident and not raised:
        return [event(ticket, "alert", code=alert.code)]
    ticket.incidents += 1
    return notify(session, ticket, AlertAction.UPDATED, now, text=detail)


def ingest_hook(
    network: str, clock: Clock, policy: MaintenancePolicy = DEFAULT_POLICY
) -> BatchHook:
    """What the ingest calls with every batch's fresh messages, in the batch's transaction:
    alarms become alerts, unit states fire and resolve the unit-offline alert, technicians'
    replies acknowledge, start or resolve their tickets."""

    def on_batch(session: Session, batch: AppliedBatch) -> list[Event]:
        events: list[Event] = []
        alerts: dict[str, MaintenanceAlert] = {}
        now = clock()
        for decoded in batch.fresh:
            message = decoded.message
            if isinstance(message, messages.Alarm):
                events.extend(
                    handle_alarm(
                        session,
                        network=network,
                        unit_id=message.unit,
                        alarm=message.body,
                        now=now,
                        policy=policy,
                        batch=alerts,
                    )
                )
            elif isinstance(message, messages.UnitState):
                events.extend(
                    handle_unit_state(session, network=network, unit_id=message.unit, now=now)
                )
            elif isinstance(message, messages.TechnicianReply):
                events.extend(
                    handle_reply(session, technician=message.unit, reply=message, now=now)
                )
        return events

    return on_batch


# Tickets ----------------------------------------------------------------------------------------


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
    routes: RouteOptions | None = None,
) -> tuple[MaintenanceTicket, list[Event]]:
    """A new ticket, assigned to the technician whose route it joins (or left open for the
    coordinator)."""
    priority = service.priority_for(routing.severity_level(severity), info.service_level)
    ticket = MaintenanceTicket(
        kind=kind.value,
        status=TicketStatus.OPEN.value,
        priority=priority.value,
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
        last_alert_at=now,
        incidents=1,
        due_at=now + service.due_after(info.service_level, priority),
        reminders_sent=0,
        parts_used=[],
    )
    session.add(ticket)
    session.flush()
    service.record(session, ticket, now, actor, "opened", f"{kind.value}, {priority}: {opened_by}")
    _LOGGER.info("ticket %s opened for %s/%s (%s)", ticket.id, info.unit_id, info.asset, priority)
    assigned = assign_best(session, ticket, now, options=routes)
    return ticket, [event(ticket, "opened"), *assigned]


def create_ticket(
    session: Session, *, actor: Actor, spec: TicketCreate, now: datetime
) -> tuple[MaintenanceTicket, list[Event]]:
    """A ticket opened by a person (the coordinator, or a plant for its own assets)."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    if actor.role is Role.PLANT and spec.unit_id != actor.unit_id:
        raise PermissionDenied("a plant opens tickets for its own assets only")
    info = service.asset_info(session=session, unit_id=spec.unit_id, asset=spec.asset)
    return open_ticket(
        session,
        info=info,
        kind=spec.kind,
        title=spec.title,
        description=spec.description,
        severity=spec.severity,
        skill=spec.skill or info.skill_override or service.DEFAULT_SKILL,
        now=now,
        actor=service.actor_label(actor),
        opened_by="opened by hand",
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


def candidates(session: Session, network_id: str) -> list[assignment.Technician]:
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
            where = service.asset_info(session=session, unit_id=job[0], asset=job[1])
            here = assignment.Location(where.latitude, where.longitude)
        served = areas.get(unit.id, frozenset())
        result.append(
            assignment.Technician(
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
) -> list[Event]:
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
        service.record(session, ticket, now, SYSTEM, "no_technician", f"no route: {why}")
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
) -> list[Event]:
    if ticket.status not in {s.value for s in OPEN_STATUSES}:
        raise Conflict(f"ticket {ticket.id} is {ticket.status}; it cannot be assigned")
    events = []
    previous = ticket.assignee_id
    if previous and previous != technician_id:
        ticket.previous_assignees = [*ticket.previous_assignees, previous]
        events.append(event(ticket, "reassigned", technician_id=previous))  # their inbox drops it
    ticket.assignee_id = technician_id
    ticket.status = TicketStatus.ASSIGNED.value
    ticket.acknowledged_at = None
    if ticket.escalation_started_at is None:
        ticket.escalation_started_at = now
    service.record(session, ticket, now, actor, "assigned", why or technician_id)
    return [*events, *notify(session, ticket, action, now)]


def override_assignment(
    session: Session, *, actor: Actor, ticket_id: int, technician_id: str, now: datetime
) -> list[Event]:
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


def acknowledge(
    session: Session, ticket: MaintenanceTicket, now: datetime, actor: str
) -> list[Event]:
    if service.move(
        session,
        ticket,
        TicketStatus.ACKNOWLEDGED,
        allowed_from=(TicketStatus.ASSIGNED,),
        at=now,
        actor=actor,
    ):
        ticket.acknowledged_at = now
        acknowledge_command(session, ticket, now, actor)
    return [event(ticket, "acknowledged")]


def start_work(
    session: Session, ticket: MaintenanceTicket, now: datetime, actor: str
) -> list[Event]:
    if service.move(
        session,
        ticket,
        TicketStatus.IN_PROGRESS,
        allowed_from=(TicketStatus.ASSIGNED, TicketStatus.ACKNOWLEDGED),
        at=now,
        actor=actor,
    ):
        if ticket.acknowledged_at is None:
            ticket.acknowledged_at = now
            acknowledge_command(session, ticket, now, actor)
        ticket.started_at = now
    return [event(ticket, "in_progress")]


def resolve(
    session: Session,
    ticket: MaintenanceTicket,
    now: datetime,
    actor: str,
    *,
    note: str = "",
    parts: Sequence[dict[str, Any]] = (),
    by_assignee: bool = False,
) -> list[Event]:
    """Resolved: MTTR is recorded, windows end, the plan restarts and the gateway repairs."""
    moved = service.move(
        session,
        ticket,
        TicketStatus.RESOLVED,
        allowed_from=OPEN_STATUSES,
        at=now,
        actor=actor,
        detail=note,
    )
    if not moved:
        return [event(ticket, "resolved")]
    ticket.resolved_at = now
    ticket.acknowledged_at = ticket.acknowledged_at or now
    service.add_parts(session=session, ticket=ticket, parts=parts, actor=actor, at=now)
    service.end_windows_of_ticket(session=session, ticket_id=ticket.id, at=now)
    _plan_done(session, ticket, now)
    events = repair_command(session, ticket, now)
    minutes = service.repair_minutes(ticket)
    service.record(session, ticket, now, SYSTEM, "repair_time", f"{minutes} minutes")
    _LOGGER.info("ticket %s resolved after %s minutes", ticket.id, minutes)
    if by_assignee:
        return [*events, *notify(session, ticket, AlertAction.RESOLVED, now, to_assignee=False)]
    return [*events, *notify(session, ticket, AlertAction.RESOLVED, now)]


def close(session: Session, *, actor: Actor, ticket_id: int, now: datetime) -> list[Event]:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    ticket = service.get_ticket(session=session, actor=actor, ticket_id=ticket_id)
    if service.move(
        session,
        ticket,
        TicketStatus.CLOSED,
        allowed_from=(TicketStatus.RESOLVED,),
        at=now,
        actor=service.actor_label(actor),
    ):
        ticket.closed_at = now
    return [event(ticket, "closed")]


def technician_action(
    session: Session,
    *,
    actor: Actor,
    ticket_id: int,
    action: ReplyAction,
    now: datetime,
    note: str = "",
    parts: Sequence[dict[str, Any]] = (),
) -> list[Event]:
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
) -> list[Event]:
    if action is ReplyAction.RESOLVE:
        return resolve(session, ticket, now, actor, note=note, parts=parts, by_assignee=by_assignee)
    if note:
        service.record(session, ticket, now, actor, "note", note)
    if action is ReplyAction.ACKNOWLEDGE:
        return acknowledge(session, ticket, now, actor)
    return start_work(session, ticket, now, actor)


def handle_reply(
    session: Session, *, technician: str, reply: messages.TechnicianReply, now: datetime
) -> list[Event]:
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


# Preventive plan progress ------------------------------------------------------------------------


def operating_hours(session: Session, unit_id: str, asset: str, metric: str) -> float | None:
    """The newest value of the asset's operating-hours metric, from the telemetry rollups."""
    row = session.scalars(
        select(MetricRollup)
        .where(
            MetricRollup.unit_id == unit_id,
            MetricRollup.machine == asset,
            MetricRollup.metric == metric,
        )
        .order_by(MetricRollup.minute.desc())
        .limit(1)
    ).first()
    return row.last if row is not None else None


def progress_mark(now: datetime, hours: float | None) -> dict[str, Any]:
    return {"last_done_at": now.isoformat(), "last_done_hours": hours}


def _plan_done(session: Session, ticket: MaintenanceTicket, now: datetime) -> None:
    if ticket.plan_id is None:
        return
    plan = session.get(MaintenancePlan, ticket.plan_id)
    if plan is None:
        return
    hours = operating_hours(session, ticket.unit_id, ticket.asset, plan.hours_metric)
    plan.progress = {**plan.progress, f"{ticket.unit_id}/{ticket.asset}": progress_mark(now, hours)}
