"""Webhooks and notifications API (the coordinator's only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from cloud.auth.dependencies import CurrentActor, DbSession
from cloud.maintenance.webhooks import service
from cloud.maintenance.webhooks.models import NotificationRead, WebhookCreate, WebhookRead
from cloud.messaging.models import DeliveryStatus
from cloud.operations.http import ApiRoute, RowId

router = APIRouter(route_class=ApiRoute)


@router.get("/webhooks")
def list_webhooks(session: DbSession, actor: CurrentActor) -> list[WebhookRead]:
    rows = service.list_webhooks(session=session, actor=actor)
    return [WebhookRead.model_validate(row) for row in rows]


@router.post("/webhooks", status_code=status.HTTP_201_CREATED)
def create_webhook(spec: WebhookCreate, session: DbSession, actor: CurrentActor) -> WebhookRead:
    return WebhookRead.model_validate(
        service.create_webhook(session=session, actor=actor, spec=spec)
    )


@router.delete("/webhooks/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_webhook(webhook_id: RowId, session: DbSession, actor: CurrentActor) -> Response:
    service.remove_webhook(session=session, actor=actor, webhook_id=webhook_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/notifications")
def list_notifications(
    session: DbSession,
    actor: CurrentActor,
    status_: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
) -> list[NotificationRead]:
    rows = service.list_notifications(session=session, actor=actor, status=status_)
    return [NotificationRead.model_validate(row) for row in rows]
