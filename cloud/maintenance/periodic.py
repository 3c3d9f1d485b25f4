"""What the maintenance worker runs on its clock: reminders and escalation of unacknowledged
tickets, the coordinator's rollup rules, and the preventive plans."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.maintenance import routing, service
from cloud.maintenance.config import MaintenancePolicy
from cloud.maintenance.escalation import EscalationAction, EscalationState, due_actions
from cloud.maintenance.flows import (
    DEFAULT_POLICY,
    assign,
    assign_best,
    candidates,
    handle_alarm,
    open_ticket,
    operating_hours,
    progress_mark,
)
from cloud.maintenance.models import MaintenancePlan, MaintenanceTicket, TicketKind, TicketStatus
from cloud.maintenance.outbox import EVENT_TYPE, Event, escalate_to_coordinator, notify
from cloud.maintenance.rules import RollupRule, statistic, window_start
from cloud.maintenance.rules import by_asset as rule_assets
from cloud.maintenance.service import SYSTEM
from cloud.maintenance.visits import flows as visit_flows
from cloud.registry.models import Machine, Unit
from cloud.telemetry.models import MetricRollup
from protocols import messages
from protocols.enums import AlarmSource, AlarmState, AlertAction

PREVENTIVE_SEVERITY = 300  # a warning: priority P4 on a standard service level

# Reminders and escalation -----------------------------------------------------------------------


def run_escalation(
    session: Session, *, now: datetime, policy: MaintenancePolicy = DEFAULT_POLICY
) -> list[Event]:
    """Remind, escalate to the next technician, then to the coordinator; retry assignment of
    tickets nobody could take."""
    events: list[Event] = []
    waiting = session.scalars(
        select(MaintenanceTicket)
        .where(MaintenanceTicket.status.in_([TicketStatus.OPEN.value, TicketStatus.ASSIGNED.value]))
        .with_for_update(skip_locked=True)
    )
    for ticket in list(waiting):
        if ticket.status == TicketStatus.OPEN.value:
            if ticket.escalated_to_coordinator:
                continue  # nobody eligible: the coordinator assigns by hand
            events.extend(assign_best(session, ticket, now, options=policy.routes))
            continue
        events.extend(_escalate(session, ticket, now, policy))
    return events


def _escalate(
    session: Session, ticket: MaintenanceTicket, now: datetime, policy: MaintenancePolicy
) -> list[Event]:
    assert ticket.escalation_started_at is not None
    state = EscalationState(
        assigned_at=ticket.escalation_started_at,
        acknowledged_at=ticket.acknowledged_at,
        reminders_sent=ticket.reminders_sent,
        escalated_to_next=ticket.escalated_to_next,
        escalated_to_coordinator=ticket.escalated_to_coordinator,
    )
    events: list[Event] = []
    for action in due_actions(state, now, policy.escalation):
        if action is EscalationAction.REMIND:
            waited = now - ticket.escalation_started_at
            ticket.reminders_sent = int(waited / policy.escalation.remind_every)
            service.record(session, ticket, now, SYSTEM, "reminder", f"to {ticket.assignee_id}")
            events.extend(notify(session, ticket, AlertAction.REMINDER, now))
        elif action is EscalationAction.ESCALATE_TO_NEXT:
            ticket.escalated_to_next = True
            service.record(session, ticket, now, SYSTEM, "escalated", "to the next technician")
            events.extend(assign_best(session, ticket, now, AlertAction.ESCALATION, policy.routes))
        elif not ticket.escalated_to_coordinator:
            events.extend(escalate_to_coordinator(session, ticket, now, "nobody acknowledged"))
    return events


# Technician routes ------------------------------------------------------------------------------


def run_routes(
    session: Session, *, network: str, now: datetime, policy: MaintenancePolicy = DEFAULT_POLICY
) -> list[Event]:
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
    events: list[Event] = []
    for ticket_id, (technician, why) in sorted(outcome.moves.items()):
        ticket = session.get(MaintenanceTicket, ticket_id)
        if ticket is None or technician is None or technician == ticket.assignee_id:
            continue
        why = f"{why}; re-planned because {ticket.assignee_id}'s visit runs long"
        events.extend(assign(session, ticket, technician, now, actor=SYSTEM, why=why))
    routed = sorted({r.technician for r in outcome.plan.routes})
    return [*events, *({"type": EVENT_TYPE, "action": "route", "technician_id": t} for t in routed)]


# Coordinator rules on telemetry rollups ---------------------------------------------------------


def run_rules(
    session: Session,
    *,
    network: str,
    rules: Sequence[RollupRule],
    now: datetime,
    policy: MaintenancePolicy = DEFAULT_POLICY,
) -> list[Event]:
    """Raise or clear the alarms of the coordinator's rollup rules for every asset."""
    events: list[Event] = []
    for rule in rules:
        query = (
            select(MetricRollup)
            .join(Unit, MetricRollup.unit_id == Unit.id)
            .where(
                Unit.network_id == network,
                MetricRollup.metric == rule.metric,
                MetricRollup.minute >= window_start(rule, now),
            )
        )
        for (unit_id, asset), rows in rule_assets(list(session.scalars(query))).items():
            state = _rule_state(session, network, unit_id, asset, rule, statistic(rule, rows))
            if state is None:
                continue
            alarm = messages.AlarmEvent(
                asset=asset,
                alarm_id=f"{asset}/{rule.code}",
                code=rule.code,
                state=state,
                severity=rule.severity,
                text=rule.text or f"{rule.statistic.value} of {rule.metric}",
                source=AlarmSource.COORDINATOR_RULE,
                metric=rule.metric,
                occurred_at=now,
            )
            events.extend(
                handle_alarm(
                    session, network=network, unit_id=unit_id, alarm=alarm, now=now, policy=policy
                )
            )
    return events


def _rule_state(
    session: Session,
    network: str,
    unit_id: str,
    asset: str,
    rule: RollupRule,
    value: float | None,
) -> AlarmState | None:
    """The alarm change the rule calls for, if any (hysteresis between the two levels)."""
    key = routing.fingerprint(network, unit_id, asset, rule.code)
    firing = service.firing_alert(session=session, fingerprint=key) is not None
    if not firing and value is not None and value > rule.raise_above:
        return AlarmState.RAISED
    if firing and (value is None or value < rule.clear_below):
        return AlarmState.CLEARED
    return None


# Preventive maintenance -------------------------------------------------------------------------


def run_plans(session: Session, *, network: str, now: datetime) -> list[Event]:
    """Open a preventive ticket and a maintenance window for every asset whose plan is due."""
    events: list[Event] = []
    for plan in service.active_plans(session=session):
        for unit_id, asset in _plan_targets(session, plan, network):
            events.extend(_check_plan(session, plan, unit_id, asset, now))
    return events


def _plan_targets(session: Session, plan: MaintenancePlan, network: str) -> list[tuple[str, str]]:
    if plan.asset is not None and plan.unit_id is not None:
        return [(plan.unit_id, plan.asset)]
    query = (
        select(Machine.unit_id, Machine.machine)
        .join(Unit, Machine.unit_id == Unit.id)
        .where(Unit.network_id == network, Machine.model == plan.model)
    )
    if plan.unit_id is not None:
        query = query.where(Machine.unit_id == plan.unit_id)
    return [(str(u), str(m)) for u, m in session.execute(query)]


def _check_plan(
    session: Session, plan: MaintenancePlan, unit_id: str, asset: str, now: datetime
) -> list[Event]:
    key = f"{unit_id}/{asset}"
    hours = operating_hours(session, unit_id, asset, plan.hours_metric)
    done = plan.progress.get(key)
    if done is None:  # first sight: count from now and from the current hours
        plan.progress = {**plan.progress, key: progress_mark(now, hours)}
        return []
    if not _plan_due(plan, done, now, hours):
        return []
    if service.open_ticket_for(session=session, unit_id=unit_id, asset=asset, plan_id=plan.id):
        return []
    info = service.asset_info(session=session, unit_id=unit_id, asset=asset)
    ticket, events = open_ticket(
        session,
        info=info,
        kind=TicketKind.PREVENTIVE,
        title=f"{plan.title} on {asset}",
        description=_due_reason(plan, done, hours),
        severity=PREVENTIVE_SEVERITY,
        skill=plan.skill,
        now=now,
        actor=SYSTEM,
        opened_by=f"plan {plan.id}",
        plan_id=plan.id,
    )
    window = service.add_window(
        session=session,
        unit_id=unit_id,
        asset=asset,
        starts_at=now,
        ends_at=now + timedelta(minutes=plan.window_minutes),
        reason=plan.title,
        created_by=f"plan {plan.id}",
        ticket_id=ticket.id,
        plan_id=plan.id,
    )
    service.record(
        session, ticket, now, SYSTEM, "window", f"maintenance window until {window.ends_at:%c}"
    )
    return [*events, {"type": EVENT_TYPE, "action": "window", "unit_id": unit_id, "asset": asset}]


def _plan_due(
    plan: MaintenancePlan, done: dict[str, Any], now: datetime, hours: float | None
) -> bool:
    if plan.interval_days is not None:
        last = datetime.fromisoformat(done["last_done_at"])
        if now >= last + timedelta(days=plan.interval_days):
            return True
    if plan.interval_hours is not None and hours is not None:
        return hours - float(done.get("last_done_hours") or 0.0) >= plan.interval_hours
    return False


def _due_reason(plan: MaintenancePlan, done: dict[str, Any], hours: float | None) -> str:
    parts = [f"last done {done['last_done_at']}"]
    if plan.interval_days is not None:
        parts.append(f"every {plan.interval_days:g} days")
    if plan.interval_hours is not None:
        parts.append(f"every {plan.interval_hours:g} operating hours (now {hours})")
    return "; ".join(parts)
