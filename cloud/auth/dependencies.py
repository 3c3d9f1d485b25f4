"""FastAPI dependencies every domain's router reuses: the DB session and the calling actor."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from cloud.auth import service
from cloud.auth.models import Actor
from cloud.database import transaction
from cloud.exceptions import NotAuthenticated

SESSION_COOKIE = "glonet_key"


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, committed when the handler returns without error."""
    with transaction(request.app.state.context.session_factory) as session:
        yield session


# scope="function": commit before the response is sent, so a client that got 201 can read it.
DbSession = Annotated[Session, Depends(get_session, scope="function")]


def api_key_from(request: Request) -> str:
    """The key from the Authorization header, else from the pages' session cookie."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return cookie
    raise NotAuthenticated("send an API key as 'Authorization: Bearer <key>'")


def get_actor(request: Request, session: DbSession) -> Actor:
    return service.authenticate(session=session, api_key=api_key_from(request))


CurrentActor = Annotated[Actor, Depends(get_actor)]


def page_actor(request: Request, session: Session) -> Actor | None:
    """The signed-in actor of a server-rendered page (its session cookie), or ``None``."""
    try:
        return service.authenticate(
            session=session, api_key=request.cookies.get(SESSION_COOKIE, "")
        )
    except NotAuthenticated:
        return None
