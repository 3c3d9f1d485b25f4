"""The configurator page: a product family's options, checked live against the co-design API."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cloud.auth.dependencies import DbSession, page_actor
from cloud.web.templating import page, sign_in

router = APIRouter(include_in_schema=False)


@router.get("/configurator", response_class=HTMLResponse)
def configurator_page(
    request: Request, session: DbSession, family: str | None = None
) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    families = request.app.state.context.families
    chosen = families.get(family) if family else next(iter(families.values()), None)
    return page(
        request,
        "configurator.html",
        actor,
        families=list(families.values()),
        family=chosen,
        family_json=chosen.model_dump(mode="json", by_alias=True) if chosen else None,
    )
