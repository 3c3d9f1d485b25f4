"""Plan, dispatch and machine-window endpoints."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.auth.models import Role
from cloud.auth.permissions import require_role
from cloud.database import utcnow
from cloud.dispatch import flows, gantt, service
from cloud.dispatch.models import Gantt, PlanStatus
from cloud.operations.http import ApiRoute
from cloud.orders.models import DispatchedOperation

router = APIRouter(prefix="/api", tags=["dispatch"], route_class=ApiRoute)


def _network(request: Request) -> str:
    network: str = request.app.state.context.settings.network
    return network


@router.get("/plan")
def plan_status(request: Request, session: DbSession, actor: CurrentActor) -> PlanStatus:
    require_role(actor, Role.COORDINATOR)
    state = service.get_state(session=session, network_id=_network(request))
    dispatcher = request.app.state.context.dispatcher
    return PlanStatus(
        planned_at=state.planned_at,
        plans=state.plans,
        replan_requested=state.replan_requested,
        reasons=state.reasons,
        down_machines=state.down_machines,
        makespan_s=state.makespan_s,
        leader=dispatcher is not None and dispatcher.lock.held,
    )


@router.post("/plan", status_code=status.HTTP_202_ACCEPTED, response_class=Response)
def request_replan(request: Request, session: DbSession, actor: CurrentActor) -> Response:
    require_role(actor, Role.COORDINATOR)
    service.request_replan(session=session, network_id=_network(request), reason="asked by user")
    return Response(status_code=status.HTTP_202_ACCEPTED)


@router.get("/plan/gantt")
def plan_gantt(request: Request, session: DbSession, actor: CurrentActor) -> Gantt:
    """The plan as the caller may see it: a plant its machines, a customer its own orders."""
    return gantt.build(
        session=session,
        actor=actor,
        network_id=_network(request),
        now=utcnow(),
        clock=flows.plant_clock(request.app.state.context.settings.orders),
    )


@router.get("/dispatched-operations")
def dispatched_operations(session: DbSession, actor: CurrentActor) -> list[DispatchedOperation]:
    rows = service.plant_operations(session=session, actor=actor)
    return [DispatchedOperation.model_validate(row, from_attributes=True) for row in rows]
