"""Maintenance's live events: what the board, the ticket page and the technician inbox hear
(server-sent events), and how a sync endpoint hands them to the broadcaster.

The flows return :class:`LiveEvent` models; they become the broadcaster's dicts at the edges
(the ingest hook, the worker, an endpoint's :func:`broadcast`), with only the fields each
event sets, as the pages and :func:`cloud.maintenance.views.visible_to` read them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from anyio import from_thread
from fastapi import Request
from pydantic import BaseModel, ConfigDict

from cloud.maintenance.tickets.models import MaintenanceTicket, Priority, TicketStatus

EVENT_TYPE: Literal["maintenance"] = "maintenance"


class LiveEvent(BaseModel):
    """One maintenance change for the live pages: about a ticket (every ticket field set), a unit
    going offline, a window opened or a technician's route re-planned (only theirs set)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["maintenance"] = EVENT_TYPE
    action: str
    """What happened: the ticket's new status or an alert action (``new``, ``updated``,
    ``reminder``…), or ``opened``, ``alert``, ``alert_cleared``, ``reassigned``,
    ``notification_failed``, ``unit_offline``, ``window``, ``route``."""
    ticket_id: int | None = None
    unit_id: str | None = None
    asset: str | None = None
    customer_id: str | None = None
    technician_id: str | None = None
    status: TicketStatus | None = None
    priority: Priority | None = None
    title: str | None = None
    code: str | None = None

    def wire(self) -> dict[str, Any]:
        """The event as the broadcaster carries it: the type and the fields set."""
        return {"type": self.type, **self.model_dump(mode="json", exclude_unset=True)}


def ticket_event(ticket: MaintenanceTicket, action: str, **extra: Any) -> LiveEvent:
    """A live event about a ticket (``extra`` adds or overrides fields)."""
    fields: dict[str, Any] = {
        "ticket_id": ticket.id,
        "unit_id": ticket.unit_id,
        "asset": ticket.asset,
        "customer_id": ticket.customer_id,
        "technician_id": ticket.assignee_id,
        "status": ticket.status,
        "priority": ticket.priority,
        "title": ticket.title,
    }
    return LiveEvent(action=action, **{**fields, **extra})


def on_the_wire(events: Sequence[LiveEvent]) -> list[dict[str, Any]]:
    return [event.wire() for event in events]


def broadcast(request: Request, events: Sequence[LiveEvent]) -> None:
    """Hand events to the live pages (and wake the worker) from a sync endpoint's thread."""
    broadcaster = request.app.state.context.broadcaster
    for event in on_the_wire(events):
        from_thread.run_sync(broadcaster.publish, event)
