"""A delivered product's page: its as-built record, its live state, its service contract and
its service requests, with the form that opens one. Its customer sees only its own products,
the coordinator all of them; the form posts to the JSON API and shows each refused field's
message next to the field, keeping what was typed."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cloud.auth.dependencies import DbSession, page_actor
from cloud.auth.models import Role
from cloud.database import utcnow
from cloud.exceptions import NotFound, PermissionDenied
from cloud.products import flows as product_flows
from cloud.web.templating import page, sign_in

router = APIRouter(include_in_schema=False)


@router.get("/products/{serial}", response_class=HTMLResponse)
def product_page(serial: str, request: Request, session: DbSession) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    try:
        product = product_flows.product_page(
            session=session, actor=actor, serial=serial, now=utcnow()
        )
    except (NotFound, PermissionDenied) as exc:
        return page(
            request, "product.html", actor, exc.status_code, problem=exc.message, serial=serial
        )
    families = request.app.state.context.families
    family = families.get(product.family_id)
    return page(
        request,
        "product.html",
        actor,
        product=product,
        serial=serial,
        family_name=family.name if family is not None else product.family_id,
        can_request=actor.role in (Role.CUSTOMER, Role.COORDINATOR),
    )
