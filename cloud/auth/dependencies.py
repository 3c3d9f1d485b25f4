"""FastAPI dependencies every domain's router reuses: the DB session and the calling actor."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from cloud.auth import service
from cloud.auth.models import Actor
from cloud.database import transaction
from cloud.exceptions import NotAuthenticated

SESSION_COOKIE = "glonet_key"
T = TypeVar("T")


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


async def as_caller(request: Request, work: Callable[[Session, Actor], T]) -> T:
    """Authenticate the caller and run ``work`` in one transaction, all in one worker thread.

    For an ``async`` endpoint instead of :data:`DbSession` and :data:`CurrentActor` with a sync
    one, where the session's start and end, the authentication, the handler and the response's
    validation are five hand-overs between the event loop and the thread pool: on cores the
    ingest keeps busy each of them waits to be scheduled, and the endpoints polled under load
    (the live network's reads) answer in one.
    """
    api_key = api_key_from(request)
    factory = request.app.state.context.session_factory

    def run() -> T:
        with transaction(factory) as session:
            return work(session, service.authenticate(session=session, api_key=api_key))

    return await run_in_threadpool(run)


def page_actor(request: Request, session: Session) -> Actor | None:
    """The signed-in actor of a server-rendered page (its session cookie), or ``None``."""
    try:
        return service.authenticate(
            session=session, api_key=request.cookies.get(SESSION_COOKIE, "")
        )
    except NotAuthenticated:
        return None
