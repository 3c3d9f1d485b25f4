"""How a delivered order's price is split: a pure function of the price, the network's fee and
each member's work and terms (tests read it like a specification).

- The network keeps ``fee_rate`` * price.
- Each supplier is paid what was bought from it for the order (its purchases, at the prices
  quoted), one line per supplier after the members'.
- The rest goes to the members. A member's share is the one agreed in the order's terms when
  there are agreed terms; otherwise it is in proportion to the member's cost (machine time *
  hourly rate) when every member gave a rate, else in proportion to machine time.
- A member's cost is its agreed cost (its priced quote lines) when there is one, else its
  machine time * hourly rate (0 without a rate).
- Amounts are rounded to cents; the cent left over by rounding goes to the largest share, so
  the lines always add up to the price. Purchases larger than what the fee leaves give the
  members a negative revenue: the ledger shows the loss rather than hiding it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cloud.ledger.models import Basis

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class MemberWork:
    """A member's part of an order as the operations recorded it."""

    unit_id: str
    work_s: float
    hourly_rate: float | None


@dataclass(frozen=True)
class AgreedTerms:
    """What the members agreed for this order (the consortium's shares, the priced lines):
    ``shares`` are relative (scaled to add up to 1); ``costs`` are the members' priced lines."""

    shares: Mapping[str, float]
    costs: Mapping[str, float] | None = None


@dataclass(frozen=True)
class Line:
    unit_id: str | None  # None: the network's fee
    work_s: float
    hourly_rate: float | None
    cost: float
    share: float
    revenue: float
    basis: Basis | None


@dataclass(frozen=True)
class Purchase:
    """What was bought from one supplier for the order (``party``: its consortium party id)."""

    party: str
    amount: float


def split(
    *,
    price: float,
    fee_rate: float,
    work: Sequence[MemberWork],
    agreed: AgreedTerms | None = None,
    purchases: Sequence[Purchase] = (),
) -> list[Line]:
    """The network's fee line, one line per member (in unit order), then one per supplier
    (in party order)."""
    members = _members(work, agreed)
    fee = round(price * fee_rate, 2)
    bought = _per_party(purchases)
    rest = round(price - fee - sum(bought.values()), 2)
    costs = {
        m.unit_id: round(
            agreed.costs[m.unit_id]
            if agreed and agreed.costs and m.unit_id in agreed.costs
            else m.work_s / SECONDS_PER_HOUR * (m.hourly_rate or 0.0),
            2,
        )
        for m in members
    }
    shares, basis = _shares(members, costs, agreed)
    revenues = _cents(rest, shares)
    lines = [Line(None, 0.0, None, 0.0, round(fee_rate, 6), fee, None)]
    lines += [
        Line(m.unit_id, m.work_s, m.hourly_rate, costs[m.unit_id], shares[m.unit_id], r, basis)
        for m, r in zip(members, revenues, strict=True)
    ]
    lines += [
        Line(party, 0.0, None, amount, 0.0, amount, Basis.PURCHASE)
        for party, amount in bought.items()
    ]
    return lines


def _per_party(purchases: Sequence[Purchase]) -> dict[str, float]:
    """What each supplier is paid, in cents, in party order: a supplier named twice is paid
    both (a later purchase must not replace an earlier one, which the members would then get)."""
    amounts: dict[str, float] = {}
    for purchase in purchases:
        amounts[purchase.party] = amounts.get(purchase.party, 0.0) + purchase.amount
    return {party: round(amounts[party], 2) for party in sorted(amounts)}


def _members(work: Sequence[MemberWork], agreed: AgreedTerms | None) -> list[MemberWork]:
    """One entry per member, in unit order; a member with agreed terms and no recorded work
    (a supplier, a lead who only coordinated) is a member too."""
    merged: dict[str, MemberWork] = {}
    for part in work:
        before = merged.get(part.unit_id)
        total = part.work_s + (before.work_s if before else 0.0)
        merged[part.unit_id] = MemberWork(part.unit_id, total, part.hourly_rate)
    for unit_id in agreed.shares if agreed else ():
        merged.setdefault(unit_id, MemberWork(unit_id, 0.0, None))
    return [merged[unit_id] for unit_id in sorted(merged)]


def _shares(
    members: Sequence[MemberWork], costs: Mapping[str, float], agreed: AgreedTerms | None
) -> tuple[dict[str, float], Basis]:
    if agreed is not None:
        agreed_shares = {m.unit_id: float(agreed.shares.get(m.unit_id, 0.0)) for m in members}
        return _proportional(agreed_shares), Basis.AGREED
    if members and all(m.hourly_rate for m in members) and sum(costs.values()) > 0:
        return _proportional({m.unit_id: costs[m.unit_id] for m in members}), Basis.COST
    return _proportional({m.unit_id: m.work_s for m in members}), Basis.WORK


def _proportional(weights: Mapping[str, float]) -> dict[str, float]:
    total = sum(weights.values())
    if total <= 0:
        return {unit: 1 / len(weights) for unit in weights} if weights else {}
    return {unit: round(weight / total, 6) for unit, weight in weights.items()}


def _cents(amount: float, shares: Mapping[str, float]) -> list[float]:
    """``amount`` split by ``shares`` in cents, in the shares' order, adding up exactly."""
    if not shares:
        return []
    total = round(amount * 100)
    cents = [round(total * share) for share in shares.values()]
    largest = max(range(len(cents)), key=lambda index: list(shares.values())[index])
    cents[largest] += total - sum(cents)
    return [c / 100 for c in cents]
