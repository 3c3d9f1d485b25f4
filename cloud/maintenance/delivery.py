"""What maintenance does when the outbox gives up one of its messages (a webhook that failed
after the policy's attempts): the ticket's timeline says so, and the pages are told. The
ticket itself is untouched. Delivery itself is :mod:`cloud.messaging.delivery`'s."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud.maintenance import service
from cloud.maintenance.models import MaintenanceTicket
from cloud.messaging.models import OutboxMessage

_LOGGER = logging.getLogger(__name__)


def on_failed(session: Session, row: OutboxMessage, now: datetime) -> list[dict[str, Any]]:
    """Record on the ticket that ``row`` was given up; the live event for the pages."""
    # The timeline and the log are read by more than the coordinator: no token in them.
    shown = service.redacted_url(row.target)
    error = (row.last_error or "").replace(row.target, shown)
    _LOGGER.warning("%s %s failed after %s attempts: %s", row.channel, shown, row.attempts, error)
    ticket = session.get(MaintenanceTicket, int(row.subject)) if row.subject else None
    if ticket is None:
        return []
    detail = f"{row.channel} {shown} ({row.action}) failed after {row.attempts} attempts: {error}"
    service.record(session, ticket, now, service.SYSTEM, "notification_failed", detail)
    return [
        {
            "type": "maintenance",
            "action": "notification_failed",
            "ticket_id": ticket.id,
            "unit_id": ticket.unit_id,
            "technician_id": ticket.assignee_id,
            "customer_id": ticket.customer_id,
            "status": ticket.status,
        }
    ]
