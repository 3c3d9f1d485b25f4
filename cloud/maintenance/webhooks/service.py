"""Webhooks, and maintenance's notifications: the coordinator's outbox rows of origin
:data:`ORIGIN` (subject: the ticket's id), and what of their targets a member may read."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.exceptions import NotFound
from cloud.maintenance.webhooks.models import Webhook, WebhookCreate
from cloud.messaging import outbox
from cloud.messaging.models import DeliveryStatus, OutboxMessage
from cloud.messaging.outbox import redacted_url

ORIGIN = "maintenance"
"""The outbox's name for maintenance's messages; their subject is the ticket's id."""


def create_webhook(*, session: Session, actor: Actor, spec: WebhookCreate) -> Webhook:
    require_role(actor, Role.COORDINATOR)
    row = Webhook(url=str(spec.url), description=spec.description, active=True)
    session.add(row)
    session.flush()
    return row


def list_webhooks(*, session: Session, actor: Actor) -> list[Webhook]:
    require_role(actor, Role.COORDINATOR)
    return list(session.scalars(select(Webhook).order_by(Webhook.id)))


def remove_webhook(*, session: Session, actor: Actor, webhook_id: int) -> None:
    require_role(actor, Role.COORDINATOR)
    row = session.get(Webhook, webhook_id)
    if row is None:
        raise NotFound(f"webhook {webhook_id} does not exist")
    row.active = False


def active_webhooks(*, session: Session) -> list[Webhook]:
    return list(session.scalars(select(Webhook).where(Webhook.active.is_(True))))


def redactor(*, session: Session, actor: Actor) -> Callable[[str], str]:
    """What ``actor`` may read of a text that can hold a webhook URL (a notification's target or
    error, a timeline entry): everything for the coordinator; for the others every webhook URL
    ever configured is replaced by its :func:`redacted_url`."""
    if actor.role is Role.COORDINATOR:
        return lambda text: text
    urls = sorted(session.scalars(select(Webhook.url)), key=len, reverse=True)

    def redact(text: str) -> str:
        for url in urls:
            text = text.replace(url, redacted_url(url))
        return text

    return redact


# Notifications ---------------------------------------------------------------------------------


def ticket_notifications(*, session: Session, ticket_id: int) -> list[OutboxMessage]:
    """The ticket's messages in the coordinator's outbox, oldest first."""
    return outbox.of_subject(session=session, origin=ORIGIN, subject=str(ticket_id))


def list_notifications(
    *, session: Session, actor: Actor, status: str | None = None, limit: int = 200
) -> list[OutboxMessage]:
    require_role(actor, Role.COORDINATOR)
    state = DeliveryStatus(status) if status is not None else None
    return outbox.latest(session=session, origin=ORIGIN, status=state, limit=limit)
