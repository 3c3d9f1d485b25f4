"""The configurator page: a product family's options, checked live against the co-design API;
opened on a saved configuration (``?configuration=``, optionally ``&revision=``) it edits that
configuration, its next save being a new revision."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cloud.auth import service as auth_service
from cloud.auth.dependencies import DbSession, page_actor
from cloud.auth.models import Role
from cloud.codesign import service as codesign_service
from cloud.web.templating import page, sign_in

router = APIRouter(include_in_schema=False)


@router.get("/configurator", response_class=HTMLResponse)
def configurator_page(
    request: Request,
    session: DbSession,
    family: str | None = None,
    configuration: str | None = None,
    revision: int | None = None,
) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    families = request.app.state.context.families
    saved: dict[str, Any] | None = None
    values: dict[str, Any] = {}
    if configuration is not None:
        row = codesign_service.get_configuration_row(
            session=session, actor=actor, configuration_id=configuration
        )
        shown = codesign_service.get_revision(
            session=session, configuration=row, number=revision or row.current_revision
        )
        values = dict(shown.values)
        family = row.family_id
        saved = {
            "id": row.id,
            "title": row.title,
            "customer_id": row.customer_id,
            "current": row.current_revision,
            "shown": shown.number,
            "valid": shown.valid,
        }
    chosen = families.get(family) if family else next(iter(families.values()), None)
    customers = (
        auth_service.known_customers(session=session) if actor.role is Role.COORDINATOR else []
    )
    return page(
        request,
        "configurator.html",
        actor,
        families=list(families.values()),
        family=chosen,
        family_json=chosen.model_dump(mode="json", by_alias=True) if chosen else None,
        values=values,
        saved=saved,
        customers=customers,
    )
