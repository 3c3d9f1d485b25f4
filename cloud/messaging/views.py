"""The outbox as the network coordinator sees it: every message the coordinator sends
(dispatches, cancels, rebirth requests, repair and acknowledge commands, technician alerts,
webhook calls), its state, attempts and last error.

The messaging core's one router: like every endpoint it authenticates through ``cloud.auth``,
which sits above the core (an import the layer contract allows this module alone)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.auth.models import Role
from cloud.auth.permissions import require_role
from cloud.messaging import outbox
from cloud.messaging.models import Channel, DeliveryStatus, OutboxMessage
from cloud.operations.http import ApiRoute

router = APIRouter(prefix="/api", tags=["outbox"], route_class=ApiRoute)
MAX_ID = 2**31 - 1


class OutboxRead(BaseModel):
    """One outbox message, without its payload. A webhook's URL shows as its scheme and host,
    here and in the last error, since its path and query are where receivers put their tokens
    (the full URL is in ``GET /api/maintenance/webhooks``)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    origin: str = Field(description="the domain that wrote it: dispatch, maintenance, ingest")
    subject: str | None = Field(
        description="what it is about in that domain's words (maintenance: the ticket id)"
    )
    channel: Channel
    target: str = Field(description="the unit, the technician, or the webhook's host")
    action: str = Field(
        description="dispatch, cancel, rebirth, repair, acknowledge, or the alert's action"
    )
    topic: str | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @classmethod
    def shown(cls, row: OutboxMessage) -> OutboxRead:
        read = cls.model_validate(row)
        if read.channel is Channel.WEBHOOK:
            read.target = outbox.redacted_url(row.target)
            if read.last_error is not None:
                read.last_error = read.last_error.replace(row.target, read.target)
        return read


@router.get("/outbox")
def list_outbox(
    session: DbSession,
    actor: CurrentActor,
    status: DeliveryStatus | None = None,
    origin: Annotated[str | None, Query(max_length=32)] = None,
    channel: Channel | None = None,
    before_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_ID, description="the last id of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[OutboxRead]:
    """The coordinator's outgoing messages, newest first, a page at a time; network
    coordinators only. Sent messages are kept for ``outbox.keep_sent_s``."""
    require_role(actor, Role.COORDINATOR)
    rows = outbox.page(
        session=session,
        status=status,
        origin=origin,
        channel=channel,
        before_id=before_id,
        limit=limit,
    )
    return [OutboxRead.shown(row) for row in rows]
