"""The consortium pages: a plant's invitations inbox (answer each invitation: accept with a
price and dates, or decline with a reason), and the consortia with their members, shares and
terms (a member accepts the terms of the current revision there; once every member has, the
coordinator quotes the opportunity there).

Server-rendered from the same scoped service reads as the API; the forms post to the JSON API
and show its refusals next to the fields they concern.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cloud.auth.dependencies import DbSession, page_actor
from cloud.auth.models import Role
from cloud.consortia import service as consortia_service
from cloud.consortia.models import WorkInvitationRead
from cloud.opportunities import service as opportunities_service
from cloud.opportunities.models import OpportunityStatus
from cloud.web.templating import page, sign_in

router = APIRouter(include_in_schema=False)
ROLES = (Role.COORDINATOR, Role.PLANT)


@router.get("/invitations", response_class=HTMLResponse)
def invitations_page(request: Request, session: DbSession) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    invitations = []
    if actor.role in ROLES:
        rows = consortia_service.list_invitations(session=session, actor=actor)
        invitations = [WorkInvitationRead.model_validate(row) for row in rows]
    return page(request, "consortia/inbox.html", actor, invitations=invitations)


@router.get("/consortia", response_class=HTMLResponse)
def consortia_page(request: Request, session: DbSession) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    consortia = []
    if actor.role in ROLES:
        rows = consortia_service.list_consortia(session=session, actor=actor)
        consortia = [
            consortia_service.read_consortium(session=session, actor=actor, consortium=row)
            for row in rows
        ]
    return page(request, "consortia/list.html", actor, consortia=consortia)


@router.get("/consortia/{consortium_id}", response_class=HTMLResponse)
def consortium_page(consortium_id: str, request: Request, session: DbSession) -> HTMLResponse:
    actor = page_actor(request, session)
    if actor is None:
        return sign_in(request)
    row = consortia_service.get_consortium(
        session=session, actor=actor, consortium_id=consortium_id
    )
    consortium = consortia_service.read_consortium(session=session, actor=actor, consortium=row)
    accepted = {a.unit_id for a in consortium.acceptances}
    can_accept = (
        actor.role is Role.PLANT
        and actor.unit_id not in accepted
        and any(m.unit_id == actor.unit_id for m in consortium.members)
    )
    opportunity = (
        opportunities_service.get_opportunity(
            session=session, actor=actor, opportunity_id=consortium.opportunity_id
        )
        if actor.is_coordinator
        else None
    )
    can_quote = (
        opportunity is not None
        and opportunity.status is OpportunityStatus.FORMING
        and consortium.accepted_by_all
    )
    return page(
        request,
        "consortia/detail.html",
        actor,
        consortium=consortium,
        can_accept=can_accept,
        can_quote=can_quote,
        opportunity_status=None if opportunity is None else opportunity.status.value,
    )
