"""WorkInvitation and consortium endpoints: invite, answer, preview the selection, form, revise,
accept the terms."""

from __future__ import annotations

from fastapi import APIRouter, Request, status

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.codesign.views import FamilyRegistry
from cloud.consortia import flows, quoting, service
from cloud.consortia.models import (
    ConsortiumCreate,
    ConsortiumRead,
    ConsortiumRevisionCreate,
    SelectionRead,
    TermsAccept,
    WorkInvitationAnswer,
    WorkInvitationRead,
    WorkInvitationsCreate,
    WorkInvitationStatus,
)
from cloud.database import utcnow
from cloud.operations.http import ApiRoute, answers
from cloud.orders.models import QuoteRead

router = APIRouter(prefix="/api", tags=["consortia"], route_class=ApiRoute)


def _time_scale(request: Request) -> float:
    """Plant seconds per real second: the selection's road times to the site run on the same
    clock as partner search's (``settings.orders.time_scale``)."""
    return float(request.app.state.context.settings.orders.time_scale)


@router.post(
    "/opportunities/{opportunity_id}/work-invitations",
    status_code=status.HTTP_201_CREATED,
    responses=answers(409),
)
def send_invitations(
    opportunity_id: str, spec: WorkInvitationsCreate, session: DbSession, actor: CurrentActor
) -> list[WorkInvitationRead]:
    sent = flows.send_invitations(
        session=session, actor=actor, opportunity_id=opportunity_id, spec=spec, now=utcnow()
    )
    return [WorkInvitationRead.model_validate(row) for row in sent]


@router.get("/work-invitations")
def list_invitations(
    session: DbSession,
    actor: CurrentActor,
    opportunity_id: str | None = None,
    status: WorkInvitationStatus | None = None,
) -> list[WorkInvitationRead]:
    rows = service.list_invitations(
        session=session, actor=actor, opportunity_id=opportunity_id, status=status
    )
    return [WorkInvitationRead.model_validate(row) for row in rows]


@router.get("/work-invitations/{invitation_id}")
def get_invitation(
    invitation_id: str, session: DbSession, actor: CurrentActor
) -> WorkInvitationRead:
    row = service.get_invitation(session=session, actor=actor, invitation_id=invitation_id)
    return WorkInvitationRead.model_validate(row)


@router.post("/work-invitations/{invitation_id}/answer", responses=answers(409))
def answer_invitation(
    invitation_id: str, answer: WorkInvitationAnswer, session: DbSession, actor: CurrentActor
) -> WorkInvitationRead:
    row = service.answer_invitation(
        session=session, actor=actor, invitation_id=invitation_id, answer=answer, now=utcnow()
    )
    return WorkInvitationRead.model_validate(row)


@router.get("/opportunities/{opportunity_id}/selection")
def preview_selection(
    opportunity_id: str,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
    families: FamilyRegistry,
) -> SelectionRead:
    return flows.preview_selection(
        session=session,
        actor=actor,
        families=families,
        opportunity_id=opportunity_id,
        now=utcnow(),
        time_scale=_time_scale(request),
    )


@router.post(
    "/opportunities/{opportunity_id}/consortium",
    status_code=status.HTTP_201_CREATED,
    responses=answers(409),
)
def form_consortium(
    opportunity_id: str,
    spec: ConsortiumCreate,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
    families: FamilyRegistry,
) -> ConsortiumRead:
    consortium = flows.form_consortium(
        session=session,
        actor=actor,
        opportunity_id=opportunity_id,
        spec=spec,
        families=families,
        now=utcnow(),
        time_scale=_time_scale(request),
    )
    return service.read_consortium(session=session, actor=actor, consortium=consortium)


@router.get("/consortia")
def list_consortia(
    session: DbSession, actor: CurrentActor, opportunity_id: str | None = None
) -> list[ConsortiumRead]:
    rows = service.list_consortia(session=session, actor=actor, opportunity_id=opportunity_id)
    return [service.read_consortium(session=session, actor=actor, consortium=c) for c in rows]


@router.get("/consortia/{consortium_id}")
def get_consortium(consortium_id: str, session: DbSession, actor: CurrentActor) -> ConsortiumRead:
    consortium = service.get_consortium(session=session, actor=actor, consortium_id=consortium_id)
    return service.read_consortium(session=session, actor=actor, consortium=consortium)


@router.post(
    "/consortia/{consortium_id}/revisions",
    status_code=status.HTTP_201_CREATED,
    responses=answers(409),
)
def revise_consortium(
    consortium_id: str, spec: ConsortiumRevisionCreate, session: DbSession, actor: CurrentActor
) -> ConsortiumRead:
    consortium = service.revise_consortium(
        session=session, actor=actor, consortium_id=consortium_id, spec=spec
    )
    return service.read_consortium(session=session, actor=actor, consortium=consortium)


@router.post("/consortia/{consortium_id}/acceptances", responses=answers(409))
def accept_terms(
    consortium_id: str, spec: TermsAccept, session: DbSession, actor: CurrentActor
) -> ConsortiumRead:
    consortium = service.accept_terms(
        session=session,
        actor=actor,
        consortium_id=consortium_id,
        revision=spec.revision,
        now=utcnow(),
    )
    return service.read_consortium(session=session, actor=actor, consortium=consortium)


@router.post(
    "/opportunities/{opportunity_id}/quote",
    status_code=status.HTTP_201_CREATED,
    responses=answers(409),
)
def quote_opportunity(
    opportunity_id: str,
    request: Request,
    session: DbSession,
    actor: CurrentActor,
    families: FamilyRegistry,
) -> QuoteRead:
    """The consortium's quote: its members' steps on their own machines, at their agreed
    prices, once every member accepted the current terms; the opportunity is then quoted."""
    settings = request.app.state.context.settings
    quote = quoting.quote_opportunity(
        session=session,
        actor=actor,
        families=families,
        settings=settings.orders,
        network_id=settings.network,
        opportunity_id=opportunity_id,
        now=utcnow(),
    )
    return QuoteRead.model_validate(quote)
