"""Principals and API keys, people and their invitations, page sessions (sign-in, sign-out)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from fastapi import APIRouter, Request, Response, status
from sqlalchemy.orm import Session

from cloud.auth import people, service, sessions
from cloud.auth.dependencies import SESSION_COOKIE, CurrentActor, DbSession
from cloud.auth.models import (
    InvitationAccept,
    InvitationRead,
    PasswordChange,
    PersonCreate,
    PersonInvited,
    PersonRead,
    Principal,
    PrincipalCreate,
    PrincipalCreated,
    PrincipalRead,
    Role,
    SessionLogin,
)
from cloud.auth.permissions import require_role
from cloud.database import transaction, utcnow
from cloud.exceptions import NotAuthenticated, PermissionDenied
from cloud.operations.http import ApiRoute, RowId, answers

router = APIRouter(prefix="/api", tags=["access"], route_class=ApiRoute)
T = TypeVar("T")


@router.get("/me")
def whoami(actor: CurrentActor) -> dict[str, object]:
    return {
        "name": actor.name,
        "role": actor.role.value,
        "unit_id": actor.unit_id,
        "technician_id": actor.technician_id,
        "customer_id": actor.customer_id,
    }


@router.get("/principals")
def list_principals(session: DbSession, actor: CurrentActor) -> list[PrincipalRead]:
    rows = service.list_principals(session=session, actor=actor)
    return [PrincipalRead.model_validate(row) for row in rows]


@router.post("/principals", status_code=status.HTTP_201_CREATED, responses=answers(404))
def create_principal(
    spec: PrincipalCreate, session: DbSession, actor: CurrentActor
) -> PrincipalCreated:
    require_role(actor, Role.COORDINATOR)
    principal, api_key = service.create_principal(session=session, spec=spec)
    return PrincipalCreated(**PrincipalRead.model_validate(principal).model_dump(), api_key=api_key)


@router.delete("/principals/{principal_id}")
def revoke_principal(principal_id: RowId, session: DbSession, actor: CurrentActor) -> PrincipalRead:
    row = service.revoke_principal(session=session, actor=actor, principal_id=principal_id)
    return PrincipalRead.model_validate(row)


def _address(request: Request) -> str:
    """The caller's address (a trusted proxy's X-Forwarded-For already applied by uvicorn)."""
    return request.client.host if request.client else "unknown"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


@router.post(
    "/session",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=answers(429),
)
def login(body: SessionLogin, request: Request) -> Response:
    """Sign in with a username and password (or an API key) and open a page session: its token
    in an HttpOnly, SameSite=Strict cookie, Secure when the page is served over HTTPS (directly,
    or as a trusted proxy says). Failed attempts are counted per username and address; past
    the limit the answer is 429 with Retry-After."""
    accounts = request.app.state.context.settings.accounts
    username = body.username.strip().lower() if body.username is not None else None

    def attempt(session: Session, now: datetime) -> str | None:
        principal_id = _check(session, body, username)
        if principal_id is None:
            return None
        if username is not None:
            people.forget_failures(session=session, username=username)
        return sessions.open_session(
            session=session, principal_id=principal_id, settings=accounts, now=now
        )

    token = _counted(request, username, attempt)
    if token is None:
        raise NotAuthenticated(
            people.WRONG_CREDENTIALS if username is not None else "invalid or revoked API key"
        )
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.set_cookie(
        SESSION_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


def _counted(
    request: Request, username: str | None, attempt: Callable[[Session, datetime], T | None]
) -> T | None:
    """Run ``attempt`` behind the sign-in throttle: refused (429) while the username or the
    caller's address has too many recent failures; an attempt that answers ``None`` (wrong
    credentials) is counted as a failure, in a transaction of its own."""
    context = request.app.state.context
    accounts = context.settings.accounts
    factory = context.session_factory
    address = _address(request)
    now = utcnow()
    with transaction(factory) as session:
        people.throttle(
            session=session, username=username, address=address, settings=accounts, now=now
        )
    with transaction(factory) as session:
        result = attempt(session, now)
    if result is None:
        with transaction(factory) as session:
            people.record_failure(
                session=session, username=username, address=address, settings=accounts, now=now
            )
    return result


def _check(session: Session, body: SessionLogin, username: str | None) -> int | None:
    if body.api_key is not None:
        try:
            return service.authenticate(session=session, api_key=body.api_key).principal_id
        except NotAuthenticated:
            return None
    assert username is not None and body.password is not None
    principal = people.check_password(session=session, username=username, password=body.password)
    return principal.id if principal is not None else None


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request, session: DbSession) -> Response:
    """Sign out: the session ends on the server too, not only in this browser."""
    token = request.cookies.get(SESSION_COOKIE, "")
    if sessions.is_session_token(token):
        sessions.end_session(session=session, token=token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response


@router.put("/me/password", status_code=status.HTTP_204_NO_CONTENT, responses=answers(409, 429))
def change_password(body: PasswordChange, request: Request, actor: CurrentActor) -> Response:
    """Change your own password (people only: an API key is replaced by the coordinator). The
    present password must come with the new one; a wrong one counts as a failed sign-in, so
    past the limit the answer is 429 with Retry-After. Every other session of yours ends; this
    one stays open."""
    with transaction(request.app.state.context.session_factory) as session:
        principal = session.get(Principal, actor.principal_id)
        username = principal.username if principal is not None else None
    token = request.cookies.get(SESSION_COOKIE, "")

    def attempt(session: Session, now: datetime) -> bool | None:
        changed = people.change_password(
            session=session,
            actor=actor,
            current=body.current_password,
            new=body.new_password,
            keep=token if sessions.is_session_token(token) else None,
        )
        return True if changed else None

    if _counted(request, username, attempt) is None:
        raise PermissionDenied("the present password is wrong")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def _invited(issued: people.IssuedInvitation, request: Request) -> PersonInvited:
    principal = issued.principal
    invitation = InvitationRead(
        principal_id=principal.id,
        username=principal.username or "",
        token=issued.token,
        url=f"{str(request.base_url).rstrip('/')}/invite#{issued.token}",
        expires_at=issued.expires_at,
    )
    return PersonInvited(
        **PrincipalRead.model_validate(principal).model_dump(), invitation=invitation
    )


@router.post("/people", status_code=status.HTTP_201_CREATED, responses=answers(404, 409))
def invite_person(
    spec: PersonCreate, request: Request, session: DbSession, actor: CurrentActor
) -> PersonInvited:
    """A person who signs in on the pages, and the invitation link that sets their password
    (send it to them; it is shown once)."""
    issued = people.invite_person(
        session=session,
        actor=actor,
        spec=spec,
        settings=request.app.state.context.settings.accounts,
        now=utcnow(),
    )
    return _invited(issued, request)


@router.get("/people")
def list_people(session: DbSession, actor: CurrentActor) -> list[PersonRead]:
    """Every person, with where their access stands: active (a password set), invited (the
    link works until ``invitation_expires_at``), invitation expired, or revoked."""
    return people.list_people(session=session, actor=actor, now=utcnow())


@router.post("/principals/{principal_id}/invitation", responses=answers(409))
def reset_access(
    principal_id: RowId, request: Request, session: DbSession, actor: CurrentActor
) -> PersonInvited:
    """Reset a person's access: their sessions end, their password is cleared, and a new
    invitation sets another."""
    issued = people.reset_access(
        session=session,
        actor=actor,
        principal_id=principal_id,
        settings=request.app.state.context.settings.accounts,
        now=utcnow(),
    )
    return _invited(issued, request)


@router.post("/invitations/accept", status_code=status.HTTP_204_NO_CONTENT)
def accept_invitation(body: InvitationAccept, session: DbSession) -> Response:
    """Set the password of the person an invitation names (no API key needed: the token is
    the credential); the invitation is used up."""
    people.accept_invitation(
        session=session, token=body.token, password=body.password, now=utcnow()
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
