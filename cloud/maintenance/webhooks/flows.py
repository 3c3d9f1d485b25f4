"""Maintenance's notifications, written to the coordinator's outbox
(:mod:`cloud.messaging.outbox`) in the caller's transaction and delivered by
:mod:`cloud.messaging.delivery`: the assignee's MQTT alert and a call of every webhook; and
what maintenance does when the outbox gives one up (the ticket's timeline says so, the pages
are told; the ticket itself is untouched)."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud.maintenance import emails
from cloud.maintenance.events import LiveEvent, ticket_event
from cloud.maintenance.tickets import service as ticket_service
from cloud.maintenance.tickets.models import MaintenanceTicket
from cloud.maintenance.webhooks import service
from cloud.maintenance.webhooks.service import ORIGIN
from cloud.messaging import outbox as messaging_outbox
from cloud.messaging import service as messaging_service
from cloud.messaging.models import Channel, OutboxMessage
from cloud.messaging.outbox import redacted_url
from protocols import codec, messages, topics
from protocols.enums import AlertAction

_LOGGER = logging.getLogger(__name__)
COORDINATOR = topics.COORDINATOR


def notify(
    session: Session,
    ticket: MaintenanceTicket,
    action: AlertAction,
    now: datetime,
    *,
    text: str = "",
    to_assignee: bool = True,
) -> list[LiveEvent]:
    """Queue the assignee's MQTT alert, every webhook and the people's emails; return the live
    event."""
    notice = messages.AlertNotice(
        ticket_id=str(ticket.id),
        action=action,
        asset=ticket.asset,
        asset_unit=ticket.unit_id,
        severity=max(1, min(1000, ticket.severity)),
        title=ticket.title,
        text=(text or ticket.description)[:2000],
        due_at=ticket.due_at,
    )
    if to_assignee and ticket.assignee_id:
        seq = messaging_service.next_sequence(session=session, sender=COORDINATOR)
        alert = messages.TechnicianAlert.create(unit=COORDINATOR, seq=seq, body=notice, sent_at=now)
        _enqueue(
            session,
            ticket,
            Channel.MQTT,
            ticket.assignee_id,
            action.value,
            now,
            codec.encode(alert).decode(),
            topics.technician_alerts(ticket.network_id, ticket.assignee_id),
        )
    body = {
        "network": ticket.network_id,
        "ticket": ticket.id,
        "status": ticket.status,
        "priority": ticket.priority,
        "assignee": ticket.assignee_id,
        **notice.model_dump(mode="json"),
    }
    for hook in service.active_webhooks(session=session):
        _enqueue(session, ticket, Channel.WEBHOOK, hook.url, action.value, now, json.dumps(body))
    emails.tell_people(session, ticket, action, now, origin=ORIGIN, to_assignee=to_assignee)
    return [ticket_event(ticket, action.value)]


def _enqueue(
    session: Session,
    ticket: MaintenanceTicket,
    channel: Channel,
    target: str,
    action: str,
    now: datetime,
    payload: str,
    topic: str | None = None,
) -> None:
    messaging_outbox.enqueue(
        session,
        origin=ORIGIN,
        subject=str(ticket.id),
        channel=channel,
        target=target,
        action=action,
        payload=payload,
        now=now,
        topic=topic,
    )


def on_failed(session: Session, row: OutboxMessage, now: datetime) -> list[dict[str, Any]]:
    """Record on the ticket that ``row`` was given up; the live event for the pages."""
    # The timeline and the log are read by more than the coordinator: no token in them.
    shown = redacted_url(row.target)
    error = (row.last_error or "").replace(row.target, shown)
    _LOGGER.warning("%s %s failed after %s attempts: %s", row.channel, shown, row.attempts, error)
    ticket = session.get(MaintenanceTicket, int(row.subject)) if row.subject else None
    if ticket is None:
        return []
    detail = f"{row.channel} {shown} ({row.action}) failed after {row.attempts} attempts: {error}"
    ticket_service.record(
        session=session, ticket=ticket, at=now, kind="notification_failed", detail=detail
    )
    failed = LiveEvent(
        action="notification_failed",
        ticket_id=ticket.id,
        unit_id=ticket.unit_id,
        technician_id=ticket.assignee_id,
        customer_id=ticket.customer_id,
        status=ticket.status,
    )
    return [failed.wire()]
