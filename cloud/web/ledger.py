"""The ledger pages: every member's totals and lines (a member its own), and one delivered
order's ledger, each with its CSV export; rendered from the ledger's scoped service reads."""

from __future__ import annotations

from itertools import groupby

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cloud.auth.dependencies import DbSession, page_actor
from cloud.auth.models import Role
from cloud.exceptions import NotFound
from cloud.ledger import service as ledger_service
from cloud.web.templating import page, sign_in

router = APIRouter(include_in_schema=False)
ROLES = (Role.COORDINATOR, Role.PLANT)
REFUSED = "The ledger is for the network's coordinator and its member plants."


@router.get("/ledger", response_class=HTMLResponse)
def ledger_page(request: Request, session: DbSession) -> HTMLResponse:
    """Per member: delivered orders, cost, revenue, margin; then the lines, order by order."""
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    if actor.role not in ROLES:
        return page(request, "ledger/list.html", actor, 403, problem=REFUSED)
    entries = ledger_service.list_entries(session=session, actor=actor)
    orders = [(order_id, list(lines)) for order_id, lines in groupby(entries, lambda e: e.order_id)]
    totals = ledger_service.member_totals(session=session, actor=actor)
    return page(request, "ledger/list.html", actor, totals=totals, orders=orders)


@router.get("/ledger/{order_id}", response_class=HTMLResponse)
def order_ledger_page(order_id: str, request: Request, session: DbSession) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    if actor.role not in ROLES:
        return page(request, "ledger/order.html", actor, 403, problem=REFUSED)
    try:
        ledger = ledger_service.order_ledger(session=session, actor=actor, order_id=order_id)
    except NotFound as exc:
        return page(request, "ledger/order.html", actor, 404, problem=exc.message)
    return page(request, "ledger/order.html", actor, ledger=ledger)
