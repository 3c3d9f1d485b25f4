"""An order's terms for its ledger: each member's recorded work and rate, and what was agreed.

The work is what the operations recorded: the unit that ended each one, and its machine time
(the machine's own actual start and end when it reported them, else the planned duration, both
plant time). The rate is the member's ``sharing_policy.hourly_rate``.

Agreed terms override the work-based split when an order has them. They are read by the
functions in :data:`AGREED_TERMS_SOURCES`, first answer wins; an order without any (a stable
network's direct assignment) is split by cost. Today's one source is the consortium: the order
is an opportunity's (it names it, or its configured revision is one's), and that opportunity's
consortium's current revision was accepted by every member unit in it (:func:`consortium_terms`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.consortia import service as consortia_service
from cloud.consortia.models import SUPPLIER_PARTY, ConsortiumMember
from cloud.ledger.split import AgreedTerms, MemberWork
from cloud.opportunities.models import Opportunity, OpportunityStatus
from cloud.orders.models import OperationStatus, Order, OrderOperation
from cloud.registry.models import Unit

AgreedTermsSource = Callable[[Session, Order], AgreedTerms | None]


def consortium_terms(session: Session, order: Order) -> AgreedTerms | None:
    """The revenue shares of the consortium formed for the order's opportunity, once every
    member unit accepted its current revision's terms (see :func:`unit_shares` for its
    suppliers)."""
    opportunity = _opportunity_of(session, order)
    if opportunity is None:
        return None
    consortium = consortia_service.consortium_of(session=session, opportunity_id=opportunity.id)
    if consortium is None:
        return None
    revision = consortia_service.revision_of(
        session=session, consortium=consortium, number=consortium.current_revision
    )
    members = consortia_service.members_of(session=session, revision=revision)
    accepted = {
        a.unit_id for a in consortia_service.acceptances_of(session=session, revision=revision)
    }
    if not members or any(m.unit_id and m.unit_id not in accepted for m in members):
        return None
    return AgreedTerms(shares=unit_shares(members))


def unit_shares(members: Sequence[ConsortiumMember]) -> dict[str, float]:
    """The member units' revenue shares. A supplier in the consortium is paid for what the order
    bought from it (its purchases, a line of their own), not with a share as well; the units'
    shares are scaled to the rest by the split."""
    return {m.unit_id: m.revenue_share for m in members if m.unit_id is not None}


def supplier_party(supplier_id: str) -> str:
    """A supplier's party id, as consortia name it."""
    return f"{SUPPLIER_PARTY}{supplier_id}"


def _opportunity_of(session: Session, order: Order) -> Opportunity | None:
    """The opportunity the order names, else the latest live one of its configured revision."""
    if order.opportunity_id is not None:
        return session.get(Opportunity, order.opportunity_id)
    if order.configuration_id is None:
        return None
    return session.scalars(
        select(Opportunity)
        .where(
            Opportunity.configuration_id == order.configuration_id,
            Opportunity.status.not_in((OpportunityStatus.LOST, OpportunityStatus.WITHDRAWN)),
        )
        .order_by(Opportunity.created_at.desc())
    ).first()


AGREED_TERMS_SOURCES: list[AgreedTermsSource] = [consortium_terms]
"""Readers of an order's agreed terms, first answer wins; a domain that records others (members'
priced quote lines) adds its reader here."""


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
