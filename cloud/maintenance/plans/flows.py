"""Preventive maintenance: open a ticket and a maintenance window for every asset whose plan
is due (by calendar interval or operating hours), on the maintenance worker's clock."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.maintenance.assets import asset_info
from cloud.maintenance.config import DEFAULT_POLICY, MaintenancePolicy
from cloud.maintenance.events import LiveEvent
from cloud.maintenance.plans import service
from cloud.maintenance.plans.models import MaintenancePlan
from cloud.maintenance.tickets import service as ticket_service
from cloud.maintenance.tickets.flows import open_ticket
from cloud.maintenance.tickets.models import TicketKind
from cloud.maintenance.tickets.service import SYSTEM
from cloud.maintenance.windows import service as window_service
from cloud.registry.models import Machine, Unit

PREVENTIVE_SEVERITY = 300  # a warning: priority P4 on a standard service level


def run_plans(
    session: Session, *, network: str, now: datetime, policy: MaintenancePolicy = DEFAULT_POLICY
) -> list[LiveEvent]:
    """Open a preventive ticket and a maintenance window for every asset whose plan is due."""
    events: list[LiveEvent] = []
    for plan in service.active_plans(session=session):
        for unit_id, asset in _plan_targets(session, plan, network):
            events.extend(_check_plan(session, plan, unit_id, asset, now, policy))
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
    session: Session,
    plan: MaintenancePlan,
    unit_id: str,
    asset: str,
    now: datetime,
    policy: MaintenancePolicy,
) -> list[LiveEvent]:
    key = f"{unit_id}/{asset}"
    hours = service.operating_hours(
        session=session, unit_id=unit_id, asset=asset, metric=plan.hours_metric
    )
    done = plan.progress.get(key)
    if done is None:  # first sight: count from now and from the current hours
        plan.progress = {**plan.progress, key: service.progress_mark(now, hours)}
        return []
    if not _plan_due(plan, done, now, hours):
        return []
    if ticket_service.open_ticket_for(
        session=session, unit_id=unit_id, asset=asset, plan_id=plan.id
    ):
        return []
    info = asset_info(session=session, unit_id=unit_id, asset=asset, policy=policy)
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
        policy=policy,
    )
    window = window_service.add_window(
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
    ticket_service.record(
        session=session,
        ticket=ticket,
        at=now,
        kind="window",
        detail=f"maintenance window until {window.ends_at:%c}",
    )
    return [*events, LiveEvent(action="window", unit_id=unit_id, asset=asset)]


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
