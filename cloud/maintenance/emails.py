"""What people are emailed about tickets (:mod:`cloud.notifications`), written with the ticket's
other notifications: its technician when it is assigned to them, reminded or escalated to
them; its customer's people when their service request changes. A customer's email carries the
ticket's status and title, never its internal notes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from cloud.maintenance.tickets.models import MaintenanceTicket
from cloud.notifications import service as notifications
from cloud.notifications.models import NotificationEvent
from protocols.enums import AlertAction

TECHNICIAN_EVENTS = {
    AlertAction.NEW: (NotificationEvent.TICKET_ASSIGNED, "assigned to you"),
    AlertAction.REMINDER: (NotificationEvent.TICKET_REMINDER, "waits for your acknowledgement"),
    AlertAction.ESCALATION: (NotificationEvent.TICKET_ESCALATED, "escalated to you"),
}
CUSTOMER_ACTIONS = (AlertAction.NEW, AlertAction.UPDATED, AlertAction.RESOLVED)


def tell_people(
    session: Session,
    ticket: MaintenanceTicket,
    action: AlertAction,
    now: datetime,
    *,
    origin: str,
    to_assignee: bool,
) -> None:
    facts = _facts(ticket)
    wanted = TECHNICIAN_EVENTS.get(action)
    if wanted is not None and to_assignee and ticket.assignee_id:
        event, what = wanted
        notifications.email_technician(
            session=session,
            technician_id=ticket.assignee_id,
            event=event,
            subject=f"GloNet ticket {ticket.id} {what}: {ticket.title}",
            body="\n".join(
                [
                    f"Ticket {ticket.id}, {ticket.title}, is {what}.",
                    "",
                    *facts,
                ]
            ),
            origin=origin,
            ref=str(ticket.id),
            now=now,
            link=f"/maintenance/tickets/{ticket.id}",
        )
    if action in CUSTOMER_ACTIONS:
        tell_customer(session, ticket, now, origin=origin)


def tell_customer(
    session: Session, ticket: MaintenanceTicket, now: datetime, *, origin: str
) -> None:
    """Tell the people of the ticket's customer (if its asset has one) where their service
    request stands."""
    if not ticket.customer_id:
        return
    facts = _facts(ticket)
    notifications.email_customer(
        session=session,
        customer_id=ticket.customer_id,
        event=NotificationEvent.SERVICE_REQUEST_UPDATED,
        subject=f"GloNet service request {ticket.id}: {ticket.status.replace('_', ' ')}",
        body="\n".join(
            [
                f"Your service request {ticket.id}, {ticket.title}, is now "
                f"{ticket.status.replace('_', ' ')}.",
                "",
                *facts,
            ]
        ),
        origin=origin,
        ref=str(ticket.id),
        now=now,
    )


def _facts(ticket: MaintenanceTicket) -> list[str]:
    return [
        f"Asset: {ticket.asset} ({ticket.unit_id})",
        f"Priority: {ticket.priority}",
        f"Status: {ticket.status.replace('_', ' ')}",
        f"Due: {ticket.due_at.strftime('%Y-%m-%d %H:%M UTC')}",
    ]
