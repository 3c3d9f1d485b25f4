"""The network overview page (server-rendered, kept live by server-sent events)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cloud.auth.dependencies import DbSession, page_actor
from cloud.network import service as network_service
from cloud.web.templating import page, sign_in

router = APIRouter(include_in_schema=False)

# Where a role without a network overview starts (the navigation's first link for that role).
ROLE_HOMES = {"customer": "/orders", "technician": "/maintenance/inbox"}


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, session: DbSession) -> Response:
    """The overview for the caller's scope, or the sign-in form without a valid key; customers
    and technicians, who have no network overview, go to their own start page."""
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    home = ROLE_HOMES.get(actor.role.value)
    if home is not None:
        return RedirectResponse(home, status_code=303)
    network = request.app.state.context.settings.network
    overview = None
    if actor.role.value in ("coordinator", "plant"):
        overview = network_service.overview(session=session, actor=actor, network_id=network)
        machines = network_service.machines_live(session=session, actor=actor)
    else:
        machines = []
    return page(request, "overview.html", actor, overview=overview, machines=machines)
