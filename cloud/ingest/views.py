"""The ingest's dead letters: list, retry, discard (network coordinators only)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, field_validator
from starlette.concurrency import run_in_threadpool

from cloud.auth.dependencies import CurrentActor, DbSession, as_caller
from cloud.ingest import quarantine
from cloud.operations.http import ApiRoute, RowId, answers

router = APIRouter(prefix="/api/ingest", tags=["ingest"], route_class=ApiRoute)


class DeadLetterRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    message_id: str | None
    unit_id: str | None
    topic: str
    payload: str
    """The message exactly as it arrived (JSON text)."""
    error: str
    traceback: str
    attempts: int
    first_failed_at: datetime
    last_failed_at: datetime

    @field_validator("payload", mode="before")
    @classmethod
    def _text(cls, value: object) -> object:
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="backslashreplace")
        return value


class RetryResult(BaseModel):
    id: int
    applied: bool
    events: int
    """Live events the message caused (0 when its id had been applied meanwhile)."""


@router.get("/dead-letters")
def dead_letters(
    session: DbSession,
    actor: CurrentActor,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetterRead]:
    """Valid messages whose apply failed, oldest first, with the error and its traceback."""
    rows = quarantine.list_letters(session=session, actor=actor, limit=limit)
    return [DeadLetterRead.model_validate(row) for row in rows]


@router.post("/dead-letters/{letter_id}/retry", responses=answers(409))
async def retry(request: Request, letter_id: RowId) -> RetryResult:
    """Apply the message as if it had just arrived (once its cause is mended) and delete the
    letter; 409 with the error when it fails again (the letter stays)."""
    context = request.app.state.context
    await as_caller(
        request,
        lambda session, actor: quarantine.get_letter(
            session=session, actor=actor, letter_id=letter_id
        ),
    )
    events = await run_in_threadpool(context.pipeline.retry, letter_id)
    for event in events:
        context.broadcaster.publish(event)
    return RetryResult(id=letter_id, applied=True, events=len(events))


@router.delete("/dead-letters/{letter_id}", status_code=status.HTTP_204_NO_CONTENT)
def discard(letter_id: RowId, session: DbSession, actor: CurrentActor) -> Response:
    quarantine.discard(session=session, actor=actor, letter_id=letter_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
