"""The network overview page: server-rendered, kept live by server-sent events."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from cloud.auth.dependencies import DbSession, page_actor
from cloud.network import service as network_service

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")


@router.get("/", response_class=HTMLResponse)
def overview_page(request: Request, session: DbSession) -> HTMLResponse:
    """The overview for the caller's scope, or the sign-in form without a valid key."""
    actor = page_actor(request, session)
    if actor is None:
        return templates.TemplateResponse(request, "login.html", status_code=401)
    network = request.app.state.context.settings.network
    overview = None
    if actor.role.value in ("coordinator", "plant"):
        overview = network_service.overview(session=session, actor=actor, network_id=network)
        machines = network_service.machines_live(session=session, actor=actor)
    else:
        machines = []
    return templates.TemplateResponse(
        request,
        "overview.html",
        {"actor": actor, "overview": overview, "machines": machines, "network": network},
    )
