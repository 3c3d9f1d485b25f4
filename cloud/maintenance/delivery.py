"""Delivering the notification outbox: MQTT (technician alerts, gateway commands) and webhooks.

Channels are ports: MQTT goes through a :data:`Publisher` (the coordinator's own MQTT client in
production, a fake in tests), webhooks through an injected ``httpx.Client``. A delivery is read in
one transaction (and claimed, so a second coordinator process does not send it too), attempted
outside any transaction, and its outcome written in another, so a slow webhook never holds the
database. Failed attempts are retried with exponential backoff; after
the last one the notification is marked failed and the ticket's timeline says so — the ticket
itself is untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.database import transaction
from cloud.maintenance import service
from cloud.maintenance.config import MaintenancePolicy
from cloud.maintenance.models import Channel, DeliveryStatus, MaintenanceTicket, Notification

_LOGGER = logging.getLogger(__name__)
Publisher = Callable[[str, bytes], bool]
"""Publish ``payload`` on ``topic`` with QoS 1; False when the broker is not reachable."""
BATCH = 100
CLAIM = timedelta(minutes=2)
WEBHOOK_HEADERS = {"content-type": "application/json", "user-agent": "glonet-coordinator"}


@dataclass(frozen=True)
class _Attempt:
    id: int
    ticket_id: int
    channel: Channel
    target: str
    topic: str | None
    payload: str
    attempts: int


def deliver_due(
    session_factory: sessionmaker[Session],
    *,
    now: datetime,
    publish: Publisher | None,
    http: httpx.Client,
    policy: MaintenancePolicy,
) -> list[dict[str, Any]]:
    """Attempt every notification due at ``now``; returns live events about failures."""
    with transaction(session_factory) as session:
        rows = session.scalars(
            select(Notification)
            .where(
                Notification.status == DeliveryStatus.PENDING.value,
                Notification.next_attempt_at <= now,
            )
            .order_by(Notification.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
        due = []
        for r in rows:
            # Claimed for a while: another coordinator process skips it meanwhile.
            r.next_attempt_at = now + CLAIM
            due.append(
                _Attempt(
                    r.id, r.ticket_id, Channel(r.channel), r.target, r.topic, r.payload, r.attempts
                )
            )
    if not due:
        return []
    outcomes = [(attempt, _send(attempt, publish, http)) for attempt in due]
    with transaction(session_factory) as session:
        return [
            event
            for attempt, error in outcomes
            for event in _record(session, attempt, error, now, policy)
        ]


def _send(attempt: _Attempt, publish: Publisher | None, http: httpx.Client) -> str | None:
    """None when delivered, else why not."""
    if attempt.channel is Channel.WEBHOOK:
        return _post(http, attempt.target, attempt.payload)
    if publish is None:
        return "no MQTT connection configured"
    assert attempt.topic is not None
    if not publish(attempt.topic, attempt.payload.encode()):
        return "broker not connected"
    return None


def _post(http: httpx.Client, url: str, payload: str) -> str | None:
    try:
        response = http.post(url, content=payload, headers=WEBHOOK_HEADERS)
    except httpx.HTTPError as exc:
        return f"{exc.__class__.__name__}: {exc}"[:500]
    if response.is_success:
        return None
    return f"HTTP {response.status_code}"


def _record(
    session: Session,
    attempt: _Attempt,
    error: str | None,
    now: datetime,
    policy: MaintenancePolicy,
) -> list[dict[str, Any]]:
    row = session.get(Notification, attempt.id)
    if row is None:
        return []
    row.attempts = attempt.attempts + 1
    if error is None:
        row.status, row.sent_at, row.last_error = DeliveryStatus.SENT.value, now, None
        return []
    row.last_error = error
    if attempt.channel is not Channel.WEBHOOK or row.attempts < policy.max_attempts:
        # Messages to devices and gateways wait for the broker as long as it takes.
        row.next_attempt_at = now + policy.retry_delay(row.attempts)
        return []
    row.status = DeliveryStatus.FAILED.value
    ticket = session.get(MaintenanceTicket, attempt.ticket_id)
    # The timeline and the log are read by more than the coordinator: no token in them.
    shown = service.redacted_url(row.target)
    error = error.replace(row.target, shown)
    _LOGGER.warning("webhook %s failed after %s attempts: %s", shown, row.attempts, error)
    if ticket is None:
        return []
    detail = f"webhook {shown} ({row.action}) failed after {row.attempts} attempts: {error}"
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
