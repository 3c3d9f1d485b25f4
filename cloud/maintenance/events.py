"""Maintenance's live events: what the board, the ticket page and the technician inbox hear
(server-sent events), and how a sync endpoint hands them to the broadcaster."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from anyio import from_thread
from fastapi import Request

from cloud.maintenance.tickets.models import MaintenanceTicket

Event = dict[str, Any]
EVENT_TYPE = "maintenance"


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


def broadcast(request: Request, events: Sequence[Event]) -> None:
    """Hand events to the live pages (and wake the worker) from a sync endpoint's thread."""
    broadcaster = request.app.state.context.broadcaster
    for event in events:
        from_thread.run_sync(broadcaster.publish, event)
