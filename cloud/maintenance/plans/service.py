"""Preventive maintenance plans, and their progress (when each asset was last maintained, at
how many operating hours)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import own_unit_only, require_role
from cloud.exceptions import NotFound, PermissionDenied
from cloud.maintenance.assets import asset_info
from cloud.maintenance.plans.models import MaintenancePlan, PlanCreate
from cloud.maintenance.tickets.models import MaintenanceTicket
from cloud.telemetry.models import MetricRollup


def create_plan(*, session: Session, actor: Actor, spec: PlanCreate) -> MaintenancePlan:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    if actor.role is Role.PLANT and spec.unit_id != actor.unit_id:
        raise PermissionDenied("a plant plans the maintenance of its own assets only")
    if spec.asset is not None and spec.unit_id is not None:
        asset_info(session=session, unit_id=spec.unit_id, asset=spec.asset)
    plan = MaintenancePlan(**spec.model_dump(), active=True, progress={})
    session.add(plan)
    session.flush()
    return plan


def _plan_query(actor: Actor) -> Select[Any]:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    return own_unit_only(select(MaintenancePlan), MaintenancePlan.unit_id, actor)


def list_plans(*, session: Session, actor: Actor) -> list[MaintenancePlan]:
    return list(session.scalars(_plan_query(actor).order_by(MaintenancePlan.id)))


def deactivate_plan(*, session: Session, actor: Actor, plan_id: int) -> MaintenancePlan:
    plan = session.scalars(_plan_query(actor).where(MaintenancePlan.id == plan_id)).first()
    if plan is None:
        raise NotFound(f"plan {plan_id} does not exist")
    plan.active = False
    return plan


def active_plans(*, session: Session) -> list[MaintenancePlan]:
    """Active plans, locked for this transaction (PostgreSQL) so two coordinator processes do
    not both open a plan's ticket."""
    query = select(MaintenancePlan).where(MaintenancePlan.active.is_(True))
    return list(session.scalars(query.order_by(MaintenancePlan.id).with_for_update()))


# Progress ---------------------------------------------------------------------------------------


def operating_hours(*, session: Session, unit_id: str, asset: str, metric: str) -> float | None:
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


def plan_done(*, session: Session, ticket: MaintenanceTicket, now: datetime) -> None:
    """The ticket of a plan is resolved: its asset's count starts again."""
    if ticket.plan_id is None:
        return
    plan = session.get(MaintenancePlan, ticket.plan_id)
    if plan is None:
        return
    hours = operating_hours(
        session=session, unit_id=ticket.unit_id, asset=ticket.asset, metric=plan.hours_metric
    )
    plan.progress = {**plan.progress, f"{ticket.unit_id}/{ticket.asset}": progress_mark(now, hours)}
