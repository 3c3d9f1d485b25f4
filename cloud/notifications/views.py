"""A person's notification preferences; the coordinator's list of emails and their state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.database import utcnow
from cloud.messaging.models import DeliveryStatus
from cloud.notifications import service
from cloud.notifications.models import EmailRead, PreferencesRead, PreferencesSet
from cloud.operations.http import ApiRoute

router = APIRouter(prefix="/api", tags=["notifications"], route_class=ApiRoute)


@router.get("/me/notifications")
def my_preferences(session: DbSession, actor: CurrentActor) -> PreferencesRead:
    """Which events the caller is emailed about, and where."""
    return service.preferences(session=session, actor=actor)


@router.put("/me/notifications")
def set_my_preferences(
    spec: PreferencesSet, session: DbSession, actor: CurrentActor
) -> PreferencesRead:
    """Choose the events (of the caller's role), the address, or turn emails off."""
    return service.set_preferences(session=session, actor=actor, spec=spec, now=utcnow())


@router.get("/notifications/emails")
def list_emails(
    session: DbSession,
    actor: CurrentActor,
    status: Annotated[DeliveryStatus | None, Query()] = None,
) -> list[EmailRead]:
    """The newest 200 emails: sent, pending (being retried) or failed, with the last error."""
    rows = service.list_emails(session=session, actor=actor, status=status)
    return [EmailRead.model_validate(row) for row in rows]
