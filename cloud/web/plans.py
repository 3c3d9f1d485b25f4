"""The plan page: the plan as a Gantt chart, drawn in the browser from ``GET /api/plan/gantt``
(it zooms, pans and follows live events, which a server-rendered chart could not)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cloud.auth.dependencies import DbSession, page_actor
from cloud.web.templating import page, sign_in

router = APIRouter(include_in_schema=False)


@router.get("/plan", response_class=HTMLResponse)
def plan_page(request: Request, session: DbSession) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    return page(request, "plan.html", actor)
