"""Ledger entries: written once when an order is delivered, read by scope.

A coordinator sees every line of every order; a member (plant) its own lines alone, without the
order's price or the network's fee; technicians and customers none.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import own_unit_only, require_role
from cloud.config import LedgerSettings
from cloud.exceptions import NotFound
from cloud.ledger import terms
from cloud.ledger.models import (
    Basis,
    EntryKind,
    EntryRead,
    LedgerEntry,
    MemberTotal,
    OrderLedger,
)
from cloud.ledger.split import Line, Purchase, split
from cloud.orders.models import Order
from cloud.suppliers.models import PurchaseRequest

_LOGGER = logging.getLogger(__name__)

CSV_COLUMNS = (
    "order_id",
    "kind",
    "unit_id",
    "work_h",
    "hourly_rate",
    "cost",
    "share",
    "revenue",
    "margin",
    "currency",
    "basis",
    "written_at",
)


def record_delivery(
    *, session: Session, order: Order, settings: LedgerSettings, now: datetime
) -> list[LedgerEntry]:
    """Write the order's ledger; an order that has one keeps it (idempotent)."""
    existing = _entries_of(session, order.id)
    if existing:
        return existing
    lines = split(
        price=order.price,
        fee_rate=settings.network_fee,
        work=terms.member_work(session=session, order_id=order.id),
        agreed=terms.agreed_terms(session=session, order=order),
        purchases=_purchases(session, order),
    )
    entries = [
        LedgerEntry(
            order_id=order.id,
            line=number,
            kind=_kind(line),
            unit_id=line.unit_id,
            work_s=round(line.work_s, 3),
            hourly_rate=line.hourly_rate,
            cost=line.cost,
            share=line.share,
            revenue=line.revenue,
            currency=order.currency,
            basis=line.basis.value if line.basis else "fee",
            written_at=now,
        )
        for number, line in enumerate(lines)
    ]
    session.add_all(entries)
    session.flush()
    _LOGGER.info("ledger of order %s: %d members", order.id, len(entries) - 1)
    return entries


def _kind(line: Line) -> EntryKind:
    if line.unit_id is None:
        return EntryKind.NETWORK_FEE
    return EntryKind.PURCHASE if line.basis is Basis.PURCHASE else EntryKind.MEMBER


def _purchases(session: Session, order: Order) -> list[Purchase]:
    """The order's purchases in the order's currency (the split sums them per supplier;
    matching buys only offers in it, and another currency could not be paid out of the price
    without a rate, so such a purchase is left out of the ledger with a warning)."""
    purchases = []
    requests = session.scalars(select(PurchaseRequest).where(PurchaseRequest.order_id == order.id))
    for request in requests:
        if request.currency != order.currency:
            _LOGGER.warning(
                "order %s: purchase %s is in %s, not the order's %s: not in the ledger",
                order.id,
                request.id,
                request.currency,
                order.currency,
            )
            continue
        party = terms.supplier_party(request.supplier_id)
        purchases.append(Purchase(party, request.quantity * request.unit_price))
    return purchases


def _entries_of(session: Session, order_id: str) -> list[LedgerEntry]:
    query = select(LedgerEntry).where(LedgerEntry.order_id == order_id).order_by(LedgerEntry.line)
    return list(session.scalars(query))


def _require_member_or_coordinator(actor: Actor) -> None:
    require_role(actor, Role.COORDINATOR, Role.PLANT)


def order_ledger(*, session: Session, actor: Actor, order_id: str) -> OrderLedger:
    """One order's ledger as ``actor`` may see it; 404 for a member with no line on it."""
    _require_member_or_coordinator(actor)
    order = session.get(Order, order_id)
    query = own_unit_only(
        select(LedgerEntry).where(LedgerEntry.order_id == order_id), LedgerEntry.unit_id, actor
    )
    entries = list(session.scalars(query.order_by(LedgerEntry.line)))
    if order is None or not entries:
        raise NotFound(f"order {order_id!r} has no ledger (delivered orders have one)")
    fee = next((e.revenue for e in entries if e.kind is EntryKind.NETWORK_FEE), None)
    return OrderLedger(
        order_id=order.id,
        price=order.price if actor.is_coordinator else None,
        network_fee=fee if actor.is_coordinator else None,
        currency=order.currency,
        delivered_at=order.delivered_at,
        entries=[EntryRead.model_validate(e) for e in entries],
    )


def list_entries(
    *, session: Session, actor: Actor, unit_id: str | None = None, limit: int = 1000
) -> list[EntryRead]:
    """Ledger lines, newest orders first: a member's own, a coordinator's all (or a unit's)."""
    _require_member_or_coordinator(actor)
    query = own_unit_only(select(LedgerEntry), LedgerEntry.unit_id, actor)
    if unit_id is not None:
        query = query.where(LedgerEntry.unit_id == unit_id)
    query = query.order_by(
        LedgerEntry.written_at.desc(), LedgerEntry.order_id, LedgerEntry.line
    ).limit(limit)
    return [EntryRead.model_validate(row) for row in session.scalars(query)]


def member_totals(*, session: Session, actor: Actor) -> list[MemberTotal]:
    """Each member's ledger summed (per currency): a member its own, a coordinator everyone's."""
    _require_member_or_coordinator(actor)
    query = own_unit_only(
        select(LedgerEntry).where(LedgerEntry.kind == EntryKind.MEMBER), LedgerEntry.unit_id, actor
    )
    totals: dict[tuple[str, str], MemberTotal] = {}
    for entry in session.scalars(query):
        key = (str(entry.unit_id), entry.currency)
        total = totals.setdefault(
            key,
            MemberTotal(
                unit_id=key[0], currency=key[1], orders=0, work_s=0, cost=0, revenue=0, margin=0
            ),
        )
        total.orders += 1
        total.work_s = round(total.work_s + entry.work_s, 3)
        total.cost = round(total.cost + entry.cost, 2)
        total.revenue = round(total.revenue + entry.revenue, 2)
        total.margin = round(total.revenue - total.cost, 2)
    return [totals[key] for key in sorted(totals)]


def as_csv(entries: Iterable[EntryRead]) -> str:
    """Ledger lines as CSV (RFC 4180, a header row; hours rather than seconds)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        writer.writerow(_csv_row(e))
    return out.getvalue()


def _csv_row(entry: EntryRead) -> Sequence[object]:
    return (
        entry.order_id,
        entry.kind.value,
        entry.unit_id or "",
        round(entry.work_s / 3600, 4),
        "" if entry.hourly_rate is None else entry.hourly_rate,
        f"{entry.cost:.2f}",
        entry.share,
        f"{entry.revenue:.2f}",
        f"{entry.margin:.2f}",
        entry.currency,
        entry.basis,
        entry.written_at.isoformat(),
    )
