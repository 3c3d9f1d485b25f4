"""Orders and their operations: scoped reads, status changes, delivered products.

Customers see their own orders and products; coordinators all of them. Quotes and order
creation live in :mod:`cloud.orders.flows` (they need the planner).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.config import LedgerSettings
from cloud.exceptions import Conflict, NotFound
from cloud.ledger import service as ledger_service
from cloud.notifications.models import NotificationEvent
from cloud.orders import notices
from cloud.orders.models import (
    UNFINISHED,
    CapacityHold,
    DeliveredProduct,
    OperationRead,
    OperationStatus,
    Order,
    OrderOperation,
    OrderRead,
    OrderStatus,
    Quote,
)

_LOGGER = logging.getLogger(__name__)


def _require_customer_or_coordinator(actor: Actor) -> None:
    require_role(actor, Role.COORDINATOR, Role.CUSTOMER)


def _scoped(query: Select, model: type[Quote | Order | DeliveredProduct], actor: Actor) -> Select:
    _require_customer_or_coordinator(actor)
    if actor.role is Role.CUSTOMER:
        query = query.where(model.customer_id == actor.customer_id)
    return query


def get_quote(*, session: Session, actor: Actor, quote_id: str) -> Quote:
    row = session.scalars(_scoped(select(Quote), Quote, actor).where(Quote.id == quote_id)).first()
    if row is None:
        raise NotFound(f"quote {quote_id!r} does not exist")
    return row


def list_quotes(
    *, session: Session, actor: Actor, opportunity_id: str | None = None
) -> list[Quote]:
    """The caller's quotes, newest first; only an opportunity's when given."""
    query = _scoped(select(Quote), Quote, actor).order_by(Quote.created_at.desc())
    if opportunity_id is not None:
        query = query.where(Quote.opportunity_id == opportunity_id)
    return list(session.scalars(query))


def get_priced_quote(*, session: Session, actor: Actor, quote_id: str) -> Quote:
    """A quote whose price the caller may see part of: a customer its own, a plant one with
    lines of its own, a coordinator any (404 otherwise)."""
    if actor.role is not Role.PLANT:
        return get_quote(session=session, actor=actor, quote_id=quote_id)
    quote = session.get(Quote, quote_id)
    lines = [] if quote is None else quote.breakdown.get("lines", [])
    if quote is None or not any(line.get("unit_id") == actor.unit_id for line in lines):
        raise NotFound(f"quote {quote_id!r} does not exist")
    return quote


def holds_of(*, session: Session, quote_id: str) -> list[CapacityHold]:
    query = select(CapacityHold).where(CapacityHold.quote_id == quote_id)
    return list(session.scalars(query.order_by(CapacityHold.starts_at)))


def get_order(*, session: Session, actor: Actor, order_id: str) -> Order:
    row = session.scalars(_scoped(select(Order), Order, actor).where(Order.id == order_id)).first()
    if row is None:
        raise NotFound(f"order {order_id!r} does not exist")
    return row


def list_orders(
    *, session: Session, actor: Actor, opportunity_id: str | None = None
) -> list[Order]:
    """The caller's orders, newest first; only an opportunity's when given."""
    query = _scoped(select(Order), Order, actor).order_by(Order.created_at.desc())
    if opportunity_id is not None:
        query = query.where(Order.opportunity_id == opportunity_id)
    return list(session.scalars(query))


def operations_of(*, session: Session, order_id: str) -> Sequence[OrderOperation]:
    query = (
        select(OrderOperation)
        .where(OrderOperation.order_id == order_id)
        .order_by(OrderOperation.position)
    )
    return session.scalars(query).all()


def read_order(*, session: Session, order: Order) -> OrderRead:
    operations = operations_of(session=session, order_id=order.id)
    read = OrderRead.model_validate(order)
    read.operations = [OperationRead.model_validate(op) for op in operations]
    total = sum(op.duration_s for op in operations) or 1.0
    read.progress = round(sum(op.duration_s * op.progress for op in operations) / total, 4)
    return read


def deliver(
    *, session: Session, actor: Actor, order_id: str, ledger: LedgerSettings, now: datetime
) -> Order:
    """Mark a completed order as handed over to its customer, and write its ledger."""
    require_role(actor, Role.COORDINATOR)
    order = get_order(session=session, actor=actor, order_id=order_id)
    if order.status != OrderStatus.COMPLETED:
        raise Conflict(f"order {order_id} is {order.status}; only a completed order is delivered")
    order.status = OrderStatus.DELIVERED
    order.delivered_at = now
    ledger_service.record_delivery(session=session, order=order, settings=ledger, now=now)
    notices.tell_customer(session, order, NotificationEvent.ORDER_DELIVERED, now)
    _LOGGER.info("order %s delivered", order_id)
    return order


def advance_orders(*, session: Session, now: datetime) -> list[Order]:
    """Move unfinished orders on from their operations' states; return the changed ones."""
    changed = []
    query = select(Order).where(Order.status.in_(UNFINISHED))
    for order in session.scalars(query).all():
        operations = operations_of(session=session, order_id=order.id)
        status = _status_from(operations, order.status)
        if status is order.status:
            continue
        order.status = status
        if status is OrderStatus.COMPLETED:
            order.completed_at = now
            if order.family_id is not None:
                register_product(session=session, order=order, operations=operations, now=now)
            notices.tell_customer(session, order, NotificationEvent.ORDER_COMPLETED, now)
        _LOGGER.info("order %s is %s", order.id, status.value)
        changed.append(order)
    return changed


def _status_from(operations: Sequence[OrderOperation], current: OrderStatus) -> OrderStatus:
    if operations and all(op.status is OperationStatus.ENDED for op in operations):
        return OrderStatus.COMPLETED
    if any(op.status in (OperationStatus.RUNNING, OperationStatus.ENDED) for op in operations):
        return OrderStatus.IN_PRODUCTION
    return current


def register_product(
    *, session: Session, order: Order, operations: Sequence[OrderOperation], now: datetime
) -> DeliveredProduct:
    """The finished product as an asset, with which plant and machine did each step.

    Only a product of a family is one: a call for tenders' order is work to the buyer's own
    specification, with no serial and no service contract of the network's; its operations
    (plant, machine, job order, times) are its as-built record."""
    assert order.family_id is not None, f"order {order.id} is of no product family"
    product = DeliveredProduct(
        serial=f"{order.family_id[:20].upper()}-{order.id.removeprefix('ord-').upper()}",
        order_id=order.id,
        customer_id=order.customer_id,
        family_id=order.family_id,
        configuration=dict(order.values),
        as_built=[_as_built(op) for op in operations],
        registered_at=now,
    )
    session.add(product)
    return product


def _as_built(op: OrderOperation) -> dict[str, object]:
    ended: dict[str, Any] = next((h for h in reversed(op.history) if h.get("what") == "ended"), {})
    return {
        "step": op.step,
        "name": op.name,
        "process": op.process,
        "unit_id": op.unit_id,
        "machine": op.machine,
        "job_order_id": op.job_order_id,
        "attempts": op.attempt,
        "started_at": op.started_at.isoformat() if op.started_at else None,
        "ended_at": op.ended_at.isoformat() if op.ended_at else None,
        "machine_actual_start": ended.get("actual_start"),
        "machine_actual_end": ended.get("actual_end"),
    }


def list_products(*, session: Session, actor: Actor) -> list[DeliveredProduct]:
    query = _scoped(select(DeliveredProduct), DeliveredProduct, actor)
    return list(session.scalars(query.order_by(DeliveredProduct.registered_at.desc())))


def product_of_order(*, session: Session, order_id: str) -> DeliveredProduct | None:
    query = select(DeliveredProduct).where(DeliveredProduct.order_id == order_id)
    return session.scalars(query).first()


def get_product(*, session: Session, actor: Actor, serial: str) -> DeliveredProduct:
    query = _scoped(select(DeliveredProduct), DeliveredProduct, actor)
    row = session.scalars(query.where(DeliveredProduct.serial == serial)).first()
    if row is None:
        raise NotFound(f"product {serial!r} does not exist")
    return row
