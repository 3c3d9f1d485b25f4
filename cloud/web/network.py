"""The network overview page, and a plant's own unit page (server-rendered, kept live by
server-sent events)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cloud.auth.dependencies import DbSession, page_actor
from cloud.auth.models import Actor, Role
from cloud.maintenance.tickets import service as ticket_service
from cloud.maintenance.tickets.models import OPEN_STATUSES
from cloud.network import service as network_service
from cloud.registry import service as registry_service
from cloud.web.customers import customer_home
from cloud.web.templating import page, sign_in

router = APIRouter(include_in_schema=False)

# Where a role without a network overview starts (the navigation's first link for that role);
# a customer's home is its own page at ``/`` (:mod:`cloud.web.customers`).
ROLE_HOMES = {"technician": "/maintenance/inbox"}


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, session: DbSession) -> Response:
    """The overview for the coordinator, its own unit for a plant, its own home for a customer,
    or the sign-in form without a valid key; a technician goes to the inbox."""
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    if actor.role is Role.CUSTOMER:
        return customer_home(request, session, actor)
    home = ROLE_HOMES.get(actor.role.value)
    if home is not None:
        return RedirectResponse(home, status_code=303)
    if actor.role is Role.PLANT:
        return unit_page(request, session, actor)
    network = request.app.state.context.settings.network
    overview = network_service.overview(session=session, actor=actor, network_id=network)
    machines = network_service.machines_live(session=session, actor=actor)
    units = registry_service.metric_units(
        session=session, unit_ids=sorted({m.unit_id for m in machines})
    )
    return page(request, "overview.html", actor, overview=overview, machines=machines, units=units)


UNIT_JOBS = 50
"""The newest job orders the unit page lists (``/api/jobs`` has them all)."""


def unit_page(request: Request, session: DbSession, actor: Actor) -> Response:
    """A plant's home: its machines with their live state, its jobs, its gateway's health and
    the open tickets on its machines."""
    assert actor.unit_id is not None
    unit_id = actor.unit_id
    return page(
        request,
        "unit.html",
        actor,
        unit=registry_service.get_unit(session=session, actor=actor, unit_id=unit_id),
        health=network_service.gateway_health(session=session, actor=actor, unit_id=unit_id),
        machines=network_service.machines_live(session=session, actor=actor, unit_id=unit_id),
        jobs=network_service.list_jobs(session=session, actor=actor, unit_id=unit_id)[:UNIT_JOBS],
        tickets=ticket_service.list_tickets(
            session=session, actor=actor, status=OPEN_STATUSES, unit_id=unit_id
        ),
    )
