"""Preventive maintenance plans API."""

from __future__ import annotations

from fastapi import APIRouter, status

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.maintenance.plans import service
from cloud.maintenance.plans.models import PlanCreate, PlanRead
from cloud.operations.http import ApiRoute, RowId, answers

router = APIRouter(route_class=ApiRoute)


@router.get("/plans")
def list_plans(session: DbSession, actor: CurrentActor) -> list[PlanRead]:
    return [PlanRead.model_validate(p) for p in service.list_plans(session=session, actor=actor)]


@router.post("/plans", status_code=status.HTTP_201_CREATED, responses=answers(404))
def create_plan(spec: PlanCreate, session: DbSession, actor: CurrentActor) -> PlanRead:
    return PlanRead.model_validate(service.create_plan(session=session, actor=actor, spec=spec))


@router.delete("/plans/{plan_id}")
def deactivate_plan(plan_id: RowId, session: DbSession, actor: CurrentActor) -> PlanRead:
    plan = service.deactivate_plan(session=session, actor=actor, plan_id=plan_id)
    return PlanRead.model_validate(plan)
