"""Principals and API keys; a browser session is the same key in an HttpOnly cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status

from cloud.auth import service
from cloud.auth.dependencies import SESSION_COOKIE, CurrentActor, DbSession
from cloud.auth.models import PrincipalCreate, PrincipalCreated, PrincipalRead, Role, SessionLogin
from cloud.auth.permissions import require_role
from cloud.operations.http import ApiRoute, RowId, answers

router = APIRouter(prefix="/api", tags=["access"], route_class=ApiRoute)


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


@router.post("/session", status_code=status.HTTP_204_NO_CONTENT)
def login(body: SessionLogin, session: DbSession, request: Request) -> Response:
    """Check the key and keep it in an HttpOnly, SameSite=Strict cookie for the pages; Secure
    when the page is served over HTTPS (directly, or as a trusted proxy says)."""
    service.authenticate(session=session, api_key=body.api_key)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.set_cookie(
        SESSION_COOKIE,
        body.api_key,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.delete("/session", status_code=status.HTTP_204_NO_CONTENT)
def logout(request: Request) -> Response:
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response
