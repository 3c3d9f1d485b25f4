"""Writing maintenance's messages to the coordinator's outbox (:mod:`cloud.messaging.outbox`):
technician alerts, webhook calls and gateway commands are rows written in the caller's
transaction, delivered by the outbox delivery; live page updates are returned as events for the
caller to broadcast."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from cloud.maintenance import emails, service
from cloud.maintenance.models import MaintenanceTicket
from cloud.maintenance.service import SYSTEM
from cloud.messaging import outbox as messaging_outbox
from cloud.messaging import service as messaging_service
from cloud.messaging.models import Channel
from protocols import codec, messages, topics
from protocols.enums import AlertAction

_LOGGER = logging.getLogger(__name__)
Event = dict[str, Any]
COORDINATOR = topics.COORDINATOR
EVENT_TYPE = "maintenance"
ORIGIN = service.ORIGIN


def event(ticket: MaintenanceTicket, action: str, **extra: Any) -> Event:
    """A live event about a ticket, for the board and the technician inbox (SSE)."""
    return {
        "type": EVENT_TYPE,
        "action": action,
        "ticket_id": ticket.id,
        "unit_id": ticket.unit_id,
        "asset": ticket.asset,
        "customer_id": ticket.customer_id,
        "technician_id": ticket.assignee_id,
        "status": ticket.status,
        "priority": ticket.priority,
        "title": ticket.title,
        **extra,
    }


# Outbox ----------------------------------------------------------------------------------------


def notify(
    session: Session,
    ticket: MaintenanceTicket,
    action: AlertAction,
    now: datetime,
    *,
    text: str = "",
    to_assignee: bool = True,
) -> list[Event]:
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
    return [event(ticket, action.value)]


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


def repair_command(session: Session, ticket: MaintenanceTicket, now: datetime) -> list[Event]:
    """Ask the unit's gateway to run the machine's Repair method (wear resets)."""
    body = messages.RepairCommand(machine=ticket.asset, ticket_id=str(ticket.id))
    _command(session, ticket, now, body, "repair")
    return []


def acknowledge_command(
    session: Session, ticket: MaintenanceTicket, now: datetime, actor: str
) -> list[Event]:
    """Ask the unit's gateway to acknowledge the ticket's OPC UA alarm conditions (Acknowledge)."""
    codes = service.condition_codes(session=session, ticket_id=ticket.id)
    if codes:
        body = messages.AcknowledgeCommand(
            machine=ticket.asset, codes=codes[:64], ticket_id=str(ticket.id), comment=actor[:200]
        )
        _command(session, ticket, now, body, "acknowledge")
    return []


def _command(
    session: Session,
    ticket: MaintenanceTicket,
    now: datetime,
    body: messages.RepairCommand | messages.AcknowledgeCommand,
    action: str,
) -> None:
    if ticket.asset_kind not in ("machine", "product"):
        return
    command = messaging_outbox.command(
        session,
        origin=ORIGIN,
        subject=str(ticket.id),
        network=ticket.network_id,
        unit=ticket.unit_id,
        body=body,
        now=now,
    )
    detail = f"{action.capitalize()} sent to {command.topic}"
    service.record(session, ticket, now, SYSTEM, f"{action}_command", detail)


def escalate_to_coordinator(
    session: Session, ticket: MaintenanceTicket, now: datetime, reason: str
) -> list[Event]:
    ticket.escalated_to_coordinator = True
    service.record(session, ticket, now, SYSTEM, "escalated", f"to the coordinator: {reason}")
    _LOGGER.warning("ticket %s escalated to the coordinator: %s", ticket.id, reason)
    return notify(session, ticket, AlertAction.ESCALATION, now, text=reason, to_assignee=False)
