"""Alarms, unit states and the coordinator's rollup rules → alerts → routing: an alert is
silenced, inhibited, or feeds its asset's ticket (opening one when there is none).

Every flow runs inside the caller's transaction and takes ``now``; live page updates are
returned as events for the caller to broadcast."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.maintenance import routing
from cloud.maintenance.alerts import service
from cloud.maintenance.alerts.models import AlertState, MaintenanceAlert
from cloud.maintenance.assets import AssetInfo, asset_info
from cloud.maintenance.config import DEFAULT_POLICY, MaintenancePolicy
from cloud.maintenance.events import LiveEvent, ticket_event
from cloud.maintenance.rules import RollupRule, statistic, window_start
from cloud.maintenance.rules import by_asset as rule_assets
from cloud.maintenance.tickets import service as ticket_service
from cloud.maintenance.tickets.flows import open_ticket, record_breakdown
from cloud.maintenance.tickets.models import MaintenanceTicket, TicketKind
from cloud.maintenance.tickets.service import SYSTEM
from cloud.maintenance.webhooks.flows import notify
from cloud.network.models import UnitPresence
from cloud.operations.metrics import RULE_BUDGET_EXCEEDED
from cloud.registry.models import Unit
from cloud.telemetry.models import MetricRollup
from protocols import messages
from protocols.enums import AlarmSource, AlarmState, AlertAction

_LOGGER = logging.getLogger(__name__)


def handle_alarm(
    session: Session,
    *,
    network: str,
    unit_id: str,
    alarm: messages.AlarmEvent,
    now: datetime,
    policy: MaintenancePolicy = DEFAULT_POLICY,
    batch: dict[str, MaintenanceAlert] | None = None,
) -> list[LiveEvent]:
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
    info = asset_info(session=session, unit_id=unit_id, asset=alarm.asset, policy=policy)
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
        state=AlertState.FIRING,
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


def _resolve_alert(session: Session, alert: MaintenanceAlert, now: datetime) -> list[LiveEvent]:
    alert.state = AlertState.RESOLVED
    alert.active_key = None
    alert.resolved_at = now
    if alert.ticket_id is None:
        return []
    ticket = session.get(MaintenanceTicket, alert.ticket_id)
    if ticket is None:
        return []
    ticket_service.record(
        session=session, ticket=ticket, at=now, kind="alert_cleared", detail=f"{alert.code} cleared"
    )
    return [ticket_event(ticket, "alert_cleared", code=alert.code)]


def handle_unit_state(
    session: Session, *, network: str, unit_id: str, now: datetime
) -> list[LiveEvent]:
    """Fire or resolve the unit-offline alert from the unit's stored state (after the ingest
    applied the state message or the will)."""
    status = session.get(UnitPresence, unit_id)
    if status is None:
        return []
    key = routing.fingerprint(network, unit_id, unit_id, routing.UNIT_OFFLINE_CODE)
    alert = service.firing_alert(session=session, fingerprint=key)
    if status.status == "online":
        if alert is not None:
            alert.state, alert.active_key, alert.resolved_at = AlertState.RESOLVED, None, now
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
            state=AlertState.FIRING,
            repeats=0,
            starts_at=now,
            last_seen_at=now,
        )
    )
    return [LiveEvent(action="unit_offline", unit_id=unit_id)]


def route_alert(
    session: Session,
    alert: MaintenanceAlert,
    info: AssetInfo,
    now: datetime,
    policy: MaintenancePolicy,
) -> list[LiveEvent]:
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
    ticket = ticket_service.open_ticket_for(
        session=session, unit_id=alert.unit_id, asset=alert.asset
    )
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
) -> list[LiveEvent]:
    ticket, events = open_ticket(
        session,
        info=info,
        kind=TicketKind.CORRECTIVE,
        title=f"{alert.code.replace('_', ' ')} on {alert.asset}",
        description=alert.text,
        severity=alert.severity,
        skill=info.skill_override or policy.skill_for(alert.code),
        now=now,
        actor=SYSTEM,
        opened_by=f"alert {alert.code} ({alert.fingerprint})",
        policy=policy,
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
) -> list[LiveEvent]:
    alert.ticket_id = ticket.id
    record_breakdown(session, ticket, severity=alert.severity, now=now, policy=policy)
    same_incident = routing.joins_incident(ticket.last_alert_at, now, policy.group_window)
    ticket.last_alert_at = now
    priority = ticket_service.priority_for(
        level=routing.severity_level(alert.severity),
        service_level=info.service_level,
        policy=policy,
    )
    raised = priority < ticket.priority
    if raised:
        ticket.priority, ticket.severity = priority, max(ticket.severity, alert.severity)
        due = ticket_service.due_after(
            service_level=info.service_level, priority=priority, policy=policy
        )
        ticket.due_at = min(ticket.due_at, now + due)
    detail = f"{alert.code}: {alert.text}" + (f"; priority raised to {priority}" if raised else "")
    ticket_service.record(session=session, ticket=ticket, at=now, kind="alert", detail=detail)
    if same_incident and not raised:
        return [ticket_event(ticket, "alert", code=alert.code)]
    ticket.incidents += 1
    return notify(session, ticket, AlertAction.UPDATED, now, text=detail)


# Coordinator rules on telemetry rollups ---------------------------------------------------------


def run_rules(
    session: Session,
    *,
    network: str,
    rules: Sequence[RollupRule],
    now: datetime,
    policy: MaintenancePolicy = DEFAULT_POLICY,
) -> list[LiveEvent]:
    """Raise or clear the alarms of the coordinator's rollup rules for every asset."""
    events: list[LiveEvent] = []
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
