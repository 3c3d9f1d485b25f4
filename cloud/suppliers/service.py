"""Supplier registry and purchase requests: scoped reads and writes.

The registry is the coordinator's (plants and customers: 403). Purchases: the coordinator sees
all of them with prices; a plant sees those gating operations planned on its own unit, and a
customer those of their own orders, both without supplier or price.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Exists, Select, exists, select, update
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.exceptions import Conflict, InvalidInput, NotFound
from cloud.orders.models import UNFINISHED, Order, OrderOperation
from cloud.suppliers.matching import MatchedLine, Offer, SupplierPlace
from cloud.suppliers.models import (
    OfferRead,
    OfferSet,
    PurchaseRead,
    PurchaseRequest,
    PurchaseStatus,
    Supplier,
    SupplierCreate,
    SupplierOffer,
    SupplierRead,
    SupplierUpdate,
)

_LOGGER = logging.getLogger(__name__)
SECONDS_PER_DAY = 86400


# Registry -----------------------------------------------------------------------------------


def list_suppliers(*, session: Session, actor: Actor, network_id: str) -> list[Supplier]:
    require_role(actor, Role.COORDINATOR)
    query = select(Supplier).where(Supplier.network_id == network_id).order_by(Supplier.id)
    return list(session.scalars(query))


def get_supplier(*, session: Session, actor: Actor, supplier_id: str) -> Supplier:
    require_role(actor, Role.COORDINATOR)
    row = session.get(Supplier, supplier_id)
    if row is None:
        raise NotFound(f"supplier {supplier_id!r} does not exist")
    return row


def offers_of(*, session: Session, supplier_ids: Iterable[str]) -> list[SupplierOffer]:
    query = (
        select(SupplierOffer)
        .where(SupplierOffer.supplier_id.in_(list(supplier_ids)))
        .order_by(SupplierOffer.supplier_id, SupplierOffer.item)
    )
    return list(session.scalars(query))


def read_suppliers(*, session: Session, rows: Sequence[Supplier]) -> list[SupplierRead]:
    offers: dict[str, list[OfferRead]] = {}
    for offer in offers_of(session=session, supplier_ids=[row.id for row in rows]):
        offers.setdefault(offer.supplier_id, []).append(OfferRead.model_validate(offer))
    reads = []
    for row in rows:
        read = SupplierRead.model_validate(row)
        read.offers = offers.get(row.id, [])
        reads.append(read)
    return reads


def create_supplier(
    *, session: Session, actor: Actor, network_id: str, spec: SupplierCreate
) -> Supplier:
    require_role(actor, Role.COORDINATOR)
    if session.get(Supplier, spec.id) is not None:
        raise Conflict(f"supplier {spec.id!r} already exists")
    row = Supplier(network_id=network_id, **spec.model_dump(mode="json", exclude={"offers"}))
    session.add(row)
    session.flush()
    for item, offer in spec.offers.items():
        session.add(SupplierOffer(supplier_id=row.id, item=item, **offer.model_dump()))
    session.flush()
    return row


def update_supplier(
    *, session: Session, actor: Actor, supplier_id: str, changes: SupplierUpdate
) -> Supplier:
    row = get_supplier(session=session, actor=actor, supplier_id=supplier_id)
    for field, value in changes.model_dump(exclude_unset=True).items():
        if value is None:
            raise InvalidInput(f"{field} may not be null")
        setattr(row, field, value)
    session.flush()
    return row


def delete_supplier(*, session: Session, actor: Actor, supplier_id: str) -> None:
    row = get_supplier(session=session, actor=actor, supplier_id=supplier_id)
    bought = session.scalar(select(exists().where(PurchaseRequest.supplier_id == supplier_id)))
    if bought:
        raise Conflict(f"supplier {supplier_id!r} has purchase requests: it stays on record")
    session.delete(row)
    session.flush()


def set_offer(
    *, session: Session, actor: Actor, supplier_id: str, item: str, spec: OfferSet
) -> SupplierOffer:
    get_supplier(session=session, actor=actor, supplier_id=supplier_id)
    row = session.scalars(
        select(SupplierOffer).where(
            SupplierOffer.supplier_id == supplier_id, SupplierOffer.item == item
        )
    ).first()
    if row is None:
        row = SupplierOffer(supplier_id=supplier_id, item=item)
        session.add(row)
    for field, value in spec.model_dump().items():
        setattr(row, field, value)
    session.flush()
    return row


def remove_offer(*, session: Session, actor: Actor, supplier_id: str, item: str) -> None:
    get_supplier(session=session, actor=actor, supplier_id=supplier_id)
    row = session.scalars(
        select(SupplierOffer).where(
            SupplierOffer.supplier_id == supplier_id, SupplierOffer.item == item
        )
    ).first()
    if row is None:
        raise NotFound(f"supplier {supplier_id!r} offers no {item!r}")
    session.delete(row)
    session.flush()


def network_offers(*, session: Session, network_id: str) -> list[Offer]:
    """Every offer of the network's suppliers, as the matching takes them."""
    query = (
        select(SupplierOffer, Supplier)
        .join(Supplier, Supplier.id == SupplierOffer.supplier_id)
        .where(Supplier.network_id == network_id)
        .order_by(Supplier.id, SupplierOffer.item)
    )
    return [
        Offer(
            supplier=SupplierPlace(
                supplier.id, supplier.latitude, supplier.longitude, supplier.country, supplier.local
            ),
            company=supplier.company,
            item=offer.item,
            unit_price=offer.unit_price,
            currency=offer.currency,
            lead_time_days=offer.lead_time_days,
        )
        for offer, supplier in session.execute(query)
    ]


# Purchases ----------------------------------------------------------------------------------


def lead_time(line: MatchedLine, time_scale: float) -> timedelta:
    """A matched line's lead time on the coordinator's clock (a simulated network's days pass
    ``time_scale`` times as fast)."""
    return timedelta(seconds=(line.lead_time_days or 0.0) * SECONDS_PER_DAY / time_scale)


def add_purchase(
    *, session: Session, order_id: str, line: MatchedLine, now: datetime, time_scale: float
) -> PurchaseRequest:
    """A purchase request for a matched line, expected after the offer's lead time (in plant
    time: a simulated network's days pass ``time_scale`` times as fast)."""
    assert line.supplier_id is not None
    lead = lead_time(line, time_scale)
    row = PurchaseRequest(
        id=f"po-{secrets.token_hex(6)}",
        order_id=order_id,
        supplier_id=line.supplier_id,
        item=line.item,
        description=line.description[:200],
        quantity=line.quantity,
        unit=line.unit[:16],
        unit_price=line.unit_price or 0.0,
        currency=line.currency or "EUR",
        local=line.local,
        steps=list(line.steps),
        status=PurchaseStatus.REQUESTED,
        requested_at=now,
        expected_at=now + lead,
        history=[],
    )
    session.add(row)
    return row


def _gating_unit(actor: Actor) -> Exists:
    """Purchases of the orders with an operation planned on the plant's own unit."""
    return exists().where(
        OrderOperation.order_id == PurchaseRequest.order_id,
        OrderOperation.unit_id == actor.unit_id,
    )


def _purchases(actor: Actor) -> Select[PurchaseRequest]:
    require_role(actor, Role.COORDINATOR, Role.PLANT, Role.CUSTOMER)
    query = select(PurchaseRequest)
    if actor.role is Role.CUSTOMER:
        query = query.join(Order, Order.id == PurchaseRequest.order_id).where(
            Order.customer_id == actor.customer_id
        )
    elif actor.role is Role.PLANT:
        query = query.where(_gating_unit(actor))
    return query


def list_purchases(
    *, session: Session, actor: Actor, order_id: str | None = None
) -> list[PurchaseRequest]:
    query = _purchases(actor)
    if order_id is not None:
        query = query.where(PurchaseRequest.order_id == order_id)
    rows = list(session.scalars(query.order_by(PurchaseRequest.expected_at, PurchaseRequest.id)))
    if actor.role is Role.PLANT:
        rows = [row for row in rows if _gates_own_operation(session, row, actor)]
    return rows


def get_purchase(*, session: Session, actor: Actor, purchase_id: str) -> PurchaseRequest:
    row = session.scalars(_purchases(actor).where(PurchaseRequest.id == purchase_id)).first()
    if row is None or (actor.role is Role.PLANT and not _gates_own_operation(session, row, actor)):
        raise NotFound(f"purchase {purchase_id!r} does not exist")
    return row


def _gates_own_operation(session: Session, row: PurchaseRequest, actor: Actor) -> bool:
    """The purchase gates a step the plan put on the plant's unit (not just any of the order)."""
    steps = session.scalars(
        select(OrderOperation.step).where(
            OrderOperation.order_id == row.order_id, OrderOperation.unit_id == actor.unit_id
        )
    )
    return bool(set(steps) & set(row.steps))


def read_purchase(row: PurchaseRequest, actor: Actor) -> PurchaseRead:
    read = PurchaseRead.model_validate(row)
    if not actor.is_coordinator:
        read.supplier_id = None
        read.unit_price = None
        read.currency = None
        read.history = [
            {key: value for key, value in entry.items() if key != "by"} for entry in row.history
        ]
    return read


def record_delivery(
    *, session: Session, purchase: PurchaseRequest, delivered_at: datetime, note: str, by: str
) -> PurchaseRequest:
    """Mark ``purchase`` delivered, once: a second record (even a concurrent one, the update
    is conditional) is a 409 that leaves the first as it was."""
    entry = {"at": delivered_at.isoformat(), "event": "delivered", "note": note, "by": by}
    done = session.execute(
        update(PurchaseRequest)
        .where(
            PurchaseRequest.id == purchase.id,
            PurchaseRequest.status == PurchaseStatus.REQUESTED,
        )
        .values(
            status=PurchaseStatus.DELIVERED,
            delivered_at=delivered_at,
            history=[*purchase.history, entry],
        )
        .execution_options(synchronize_session=False)
    )
    session.expire(purchase)
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise _already_delivered(purchase)
    _LOGGER.info("purchase %s delivered at %s", purchase.id, delivered_at.isoformat())
    return purchase


def record_delay(
    *,
    session: Session,
    purchase: PurchaseRequest,
    expected_at: datetime,
    reason: str,
    by: str,
    now: datetime,
) -> PurchaseRequest:
    if purchase.status is PurchaseStatus.DELIVERED:
        raise _already_delivered(purchase)
    entry = {
        "at": now.isoformat(),
        "event": "delayed",
        "expected_at": expected_at.isoformat(),
        "previous": purchase.expected_at.isoformat(),
        "reason": reason,
        "by": by,
    }
    done = session.execute(
        update(PurchaseRequest)
        .where(
            PurchaseRequest.id == purchase.id,
            PurchaseRequest.status == PurchaseStatus.REQUESTED,
        )
        .values(expected_at=expected_at, history=[*purchase.history, entry])
        .execution_options(synchronize_session=False)
    )
    session.expire(purchase)
    if done.rowcount != 1:  # type: ignore[attr-defined]
        raise _already_delivered(purchase)
    return purchase


def _already_delivered(purchase: PurchaseRequest) -> Conflict:
    when = purchase.delivered_at.isoformat() if purchase.delivered_at else "earlier"
    return Conflict(
        f"purchase {purchase.id} ({purchase.item}) was already recorded delivered at {when}; "
        "that record stands"
    )


def material_releases(*, session: Session, now: datetime) -> dict[tuple[str, str], datetime]:
    """Per (order, step), when the last of its purchased materials still awaited is expected
    (an expected date already past counts as now: the material may arrive any moment). Steps
    whose materials are all delivered are not listed."""
    # Only orders still on the plan: a purchase never recorded delivered stays requested.
    query = (
        select(PurchaseRequest)
        .join(Order, Order.id == PurchaseRequest.order_id)
        .where(PurchaseRequest.status == PurchaseStatus.REQUESTED, Order.status.in_(UNFINISHED))
    )
    releases: dict[tuple[str, str], datetime] = {}
    for row in session.scalars(query):
        at = max(row.expected_at, now)
        for step in row.steps:
            key = (row.order_id, step)
            releases[key] = max(releases.get(key, at), at)
    return releases
