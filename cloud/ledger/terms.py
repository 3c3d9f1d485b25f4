"""An order's terms for its ledger: each member's recorded work and rate, and what was agreed.

The work is what the operations recorded: the unit that ended each one, and its machine time
(the machine's own actual start and end when it reported them, else the planned duration, both
plant time). The rate is the member's ``sharing_policy.hourly_rate``.

Agreed terms (a consortium's revenue shares, members' priced quote lines) override the work-based
split when an order has them. They are read by the functions in :data:`AGREED_TERMS_SOURCES`,
first answer wins; an order without any (a stable network's direct assignment) is split by cost.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.ledger.split import AgreedTerms, MemberWork
from cloud.orders.models import OperationStatus, Order, OrderOperation
from cloud.registry.models import Unit

AgreedTermsSource = Callable[[Session, Order], AgreedTerms | None]
AGREED_TERMS_SOURCES: list[AgreedTermsSource] = []
"""Readers of an order's agreed terms; a domain that records them (consortia, member-priced
quotes) adds its reader here."""


def agreed_terms(*, session: Session, order: Order) -> AgreedTerms | None:
    for source in AGREED_TERMS_SOURCES:
        found = source(session, order)
        if found is not None:
            return found
    return None


def member_work(*, session: Session, order_id: str) -> list[MemberWork]:
    """One entry per ended operation: its unit, machine time and the unit's hourly rate."""
    operations = session.scalars(
        select(OrderOperation).where(
            OrderOperation.order_id == order_id,
            OrderOperation.status == OperationStatus.ENDED,
            OrderOperation.unit_id.is_not(None),
        )
    ).all()
    unit_ids = {op.unit_id for op in operations}
    rates = {
        unit_id: (policy or {}).get("hourly_rate")
        for unit_id, policy in session.execute(
            select(Unit.id, Unit.sharing_policy).where(Unit.id.in_(unit_ids))
        )
    }
    return [
        MemberWork(str(op.unit_id), machine_time_s(op), rates.get(str(op.unit_id)))
        for op in operations
    ]


def machine_time_s(operation: OrderOperation) -> float:
    """The operation's time on its machine: the machine's reported actual start to end, else
    its planned duration."""
    ended: dict[str, Any] = next(
        (h for h in reversed(operation.history) if h.get("what") == "ended"), {}
    )
    start, end = ended.get("actual_start"), ended.get("actual_end")
    if start and end:
        seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
        if seconds > 0:
            return seconds
    return operation.duration_s
