"""The opportunity pages: the board (opportunities by status, and the coordinator's form for a
new one), an opportunity with its trail, its quotes and its order, and the partner-search
results.

Server-rendered through the domain's services with the signed-in actor, so each role sees what
the API shows it; the form and the status buttons call the JSON API.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from cloud.auth.dependencies import DbSession, page_actor
from cloud.auth.models import Actor, Role
from cloud.database import utcnow
from cloud.exceptions import NotFound, PermissionDenied
from cloud.opportunities import flows as opportunity_flows
from cloud.opportunities import service as opportunity_service
from cloud.opportunities.models import OpportunityStatus
from cloud.orders import service as orders_service
from cloud.suppliers import service as supplier_service
from cloud.web.templating import page, sign_in
from protocols.enums import ProcessKind

router = APIRouter(include_in_schema=False)
READERS = (Role.COORDINATOR, Role.CUSTOMER)


@router.get("/opportunities", response_class=HTMLResponse)
def board_page(request: Request, session: DbSession) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    if actor.role not in READERS:
        return page(request, "opportunities/refused.html", actor, 403)
    rows = opportunity_service.list_opportunities(session=session, actor=actor)
    by_status = {status: [r for r in rows if r.status is status] for status in OpportunityStatus}
    return page(
        request,
        "opportunities/board.html",
        actor,
        by_status=by_status,
        total=len(rows),
        processes=[p.value for p in ProcessKind],
        offered=_offered_items(request, session, actor) if actor.is_coordinator else {},
    )


@router.get("/opportunities/{opportunity_id}", response_class=HTMLResponse)
def opportunity_page(opportunity_id: str, request: Request, session: DbSession) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    if actor.role not in READERS:
        return page(request, "opportunities/refused.html", actor, 403)
    try:
        row = opportunity_service.get_opportunity(
            session=session, actor=actor, opportunity_id=opportunity_id
        )
    except NotFound:
        return page(
            request, "opportunities/missing.html", actor, 404, opportunity_id=opportunity_id
        )
    return page(
        request,
        "opportunities/detail.html",
        actor,
        opportunity=opportunity_service.read_opportunity(session=session, opportunity=row),
        quotes=orders_service.list_quotes(session=session, actor=actor, opportunity_id=row.id),
        orders=orders_service.list_orders(session=session, actor=actor, opportunity_id=row.id),
        now=utcnow(),
    )


@router.get("/opportunities/{opportunity_id}/partners", response_class=HTMLResponse)
def partners_page(opportunity_id: str, request: Request, session: DbSession) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    try:
        found = opportunity_flows.search_partners(
            session=session,
            actor=actor,
            settings=request.app.state.context.settings,
            opportunity_id=opportunity_id,
            now=utcnow(),
        )
    except PermissionDenied:
        return page(request, "opportunities/refused.html", actor, 403)
    except NotFound:
        return page(
            request, "opportunities/missing.html", actor, 404, opportunity_id=opportunity_id
        )
    title = None
    if actor.is_coordinator:
        title = opportunity_service.get_opportunity(
            session=session, actor=actor, opportunity_id=opportunity_id
        ).title
    return page(request, "opportunities/partners.html", actor, found=found, title=title)


def _offered_items(request: Request, session: Session, actor: Actor) -> dict[str, str]:
    """The items the network's suppliers offer, each in words (its description and who offers
    it): what the form suggests for a tender line's materials (an item no supplier offers is
    priced at the line's estimate)."""
    network_id = request.app.state.context.settings.network
    suppliers = supplier_service.list_suppliers(session=session, actor=actor, network_id=network_id)
    companies = {supplier.id: supplier.company for supplier in suppliers}
    described: dict[str, str] = {}
    offered: dict[str, list[str]] = {}
    for offer in supplier_service.offers_of(session=session, supplier_ids=companies):
        described.setdefault(offer.item, offer.description)
        offered.setdefault(offer.item, []).append(companies[offer.supplier_id])
    return {
        item: " · ".join(filter(None, (described[item], "offered by " + ", ".join(offered[item]))))
        for item in sorted(offered)
    }
