"""What a customer's people are emailed about their orders (:mod:`cloud.notifications`), written
in the transaction that moved the order on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from cloud.notifications import service as notifications
from cloud.notifications.models import NotificationEvent
from cloud.orders.models import Order

ORIGIN = "orders"
_WHAT = {
    NotificationEvent.ORDER_CONFIRMED: "is confirmed",
    NotificationEvent.ORDER_PLANNED: "is planned",
    NotificationEvent.ORDER_COMPLETED: "is completed",
    NotificationEvent.ORDER_DELIVERED: "is delivered",
}


def tell_customer(session: Session, order: Order, event: NotificationEvent, now: datetime) -> int:
    """Queue the email about ``order`` reaching ``event``; how many people get it."""
    lines = [
        f"Your order {order.id} ({_subject(order)}) {_WHAT[event]}.",
        "",
        f"Price: {order.price:,.2f} {order.currency}",
        f"Promised by: {_when(order.promised_at)}",
    ]
    if event is NotificationEvent.ORDER_PLANNED and order.planned_end is not None:
        lines.append(f"Planned to be finished: {_when(order.planned_end)}")
    return notifications.email_customer(
        session=session,
        customer_id=order.customer_id,
        event=event,
        subject=f"GloNet order {order.id} {_WHAT[event]}",
        body="\n".join(lines),
        origin=ORIGIN,
        ref=order.id,
        now=now,
        link=f"/orders/{order.id}",
    )


def _subject(order: Order) -> str:
    if order.family_id is not None:
        return order.family_id
    return f"call for tenders {order.opportunity_id}"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
