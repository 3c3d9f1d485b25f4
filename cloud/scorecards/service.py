"""Members' scorecards from the events the coordinator recorded, over the last
``scorecards.period_days``:

- on time: the operations a member ended (their history's ``ended`` entry) by their planned end
  (the order's promised date when never planned), within the dispatcher's late tolerance;
- dispatches and rejections: every operation sent to a member ends in its history as ended, or
  as given back, ``refused`` when the member's machine rejected it;
- availability: the maintenance figures' (:func:`cloud.maintenance.reporting.compute`) for the
  member's machines;
- quantity: what the machines reported produced on ending a job order against the quantity the
  job order asked for (the operation's: a tender line's, the products of a configured order);
- response: the invitations to offer work sent in the period, from sent to answered (one not
  answered by its deadline counts as no response at all).

Scoped: a member sees its own scorecard, a coordinator everyone's, and both the network's
percentiles, which name no member. :func:`partner_scores` is what partner search ranks by.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.config import Settings
from cloud.consortia.models import WorkInvitation
from cloud.exceptions import NotFound
from cloud.maintenance import reporting
from cloud.orders.models import Order, OrderOperation
from cloud.registry.models import Unit
from cloud.scorecards import scoring
from cloud.scorecards.models import METRICS, Scorecard, ScorecardsRead


@dataclass(frozen=True)
class Window:
    """The period judged, and how late an operation may end and still be on time."""

    since: datetime
    until: datetime
    tolerance: timedelta

    @classmethod
    def of(cls, settings: Settings, now: datetime) -> Window:
        orders = settings.orders
        return cls(
            since=now - timedelta(days=settings.scorecards.period_days),
            until=now,
            tolerance=timedelta(seconds=orders.late_tolerance_s / orders.time_scale),
        )


@dataclass
class _Tally:
    ended: int = 0
    on_time: int = 0
    dispatches: int = 0
    rejected: int = 0
    produced: int = 0
    ordered: int = 0
    invitations: int = 0
    response_s: list[float] = field(default_factory=list)
    responsiveness: list[float] = field(default_factory=list)


def compute(*, session: Session, network: str, window: Window) -> dict[str, Scorecard]:
    """Every member unit's scorecard, by unit id (unit order)."""
    unit_ids = list(
        session.scalars(select(Unit.id).where(Unit.network_id == network).order_by(Unit.id))
    )
    tallies = {unit_id: _Tally() for unit_id in unit_ids}
    for operation, promised in _operations(session, window):
        _count(tallies, operation, promised, window)
    _count_invitations(session, tallies, window)
    return {
        unit_id: _scorecard(
            unit_id,
            tallies[unit_id],
            reporting.compute(
                session,
                network,
                window.since,
                window.until,
                unit_id=unit_id,
                asset=None,
                scope=unit_id,
            ).availability,
        )
        for unit_id in unit_ids
    }


def _operations(session: Session, window: Window) -> Iterable[Any]:
    """Operations of the orders that may have events in the window, with their promise."""
    query = (
        select(OrderOperation, Order.promised_at)
        .join(Order, Order.id == OrderOperation.order_id)
        .where(
            Order.created_at < window.until,
            or_(Order.delivered_at.is_(None), Order.delivered_at >= window.since),
        )
    )
    return session.execute(query).all()


def _count(
    tallies: dict[str, _Tally], operation: OrderOperation, promised: datetime, window: Window
) -> None:
    for entry in operation.history:
        tally = tallies.get(entry.get("unit_id") or "")
        if tally is None or not entry.get("job_order_id"):
            continue  # another network's unit, or a step that never reached a machine
        at = datetime.fromisoformat(entry["at"])
        if not window.since <= at < window.until:
            continue
        tally.dispatches += 1
        if entry.get("refused"):
            tally.rejected += 1
        if entry.get("what") != "ended":
            continue
        tally.ended += 1
        due = operation.planned_end or promised
        tally.on_time += at <= due + window.tolerance
        if entry.get("produced_quantity") is not None:
            tally.produced += int(entry["produced_quantity"])
            tally.ordered += operation.quantity


def _count_invitations(session: Session, tallies: dict[str, _Tally], window: Window) -> None:
    query = select(WorkInvitation).where(
        WorkInvitation.unit_id.in_(list(tallies)),
        WorkInvitation.sent_at >= window.since,
        WorkInvitation.sent_at < window.until,
    )
    for invitation in session.scalars(query):
        tally = tallies[invitation.unit_id]
        allowed = (invitation.deadline - invitation.sent_at).total_seconds()
        if invitation.answered_at is not None:
            taken = (invitation.answered_at - invitation.sent_at).total_seconds()
            tally.response_s.append(taken)
            left = 1 - taken / allowed if allowed > 0 else 0.0
            tally.responsiveness.append(max(0.0, min(1.0, left)))
        elif invitation.deadline < window.until:
            tally.responsiveness.append(0.0)
        else:
            continue  # still open: not judged yet
        tally.invitations += 1


def _mean(values: list[float], scale: float = 1.0) -> float | None:
    return round(sum(values) / len(values) / scale, 4) if values else None


def _scorecard(unit_id: str, tally: _Tally, availability: float | None) -> Scorecard:
    on_time = _ratio(tally.on_time, tally.ended)
    rejection_rate = _ratio(tally.rejected, tally.dispatches)
    quantity_ratio = _ratio(tally.produced, tally.ordered)
    responsiveness = _mean(tally.responsiveness)
    return Scorecard(
        unit_id=unit_id,
        operations_ended=tally.ended,
        on_time=on_time,
        dispatches=tally.dispatches,
        rejected=tally.rejected,
        rejection_rate=rejection_rate,
        availability=availability,
        quantity_ratio=quantity_ratio,
        invitations=tally.invitations,
        response_hours=_mean(tally.response_s, scale=3600.0),
        responsiveness=responsiveness,
        score=scoring.score(
            on_time=on_time,
            rejection_rate=rejection_rate,
            availability=availability,
            quantity_ratio=quantity_ratio,
            responsiveness=responsiveness,
        ),
    )


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def scorecards(
    *, session: Session, actor: Actor, settings: Settings, now: datetime
) -> ScorecardsRead:
    """A member's own scorecard, or a coordinator's everyone's, with the network percentiles."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    window = Window.of(settings, now)
    cards = compute(session=session, network=settings.network, window=window)
    shown = [card for unit_id, card in cards.items() if _may_see(actor, unit_id)]
    return ScorecardsRead(
        period_start=window.since,
        period_end=window.until,
        members=shown,
        network={
            metric: scoring.percentiles([getattr(card, metric) for card in cards.values()])
            for metric in (*METRICS, "score")
        },
    )


def scorecard(
    *, session: Session, actor: Actor, settings: Settings, unit_id: str, now: datetime
) -> Scorecard:
    """One member's scorecard: a coordinator any member's, a member its own (404 otherwise)."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    if not _may_see(actor, unit_id):
        raise NotFound(f"unit {unit_id!r} does not exist")
    cards = compute(session=session, network=settings.network, window=Window.of(settings, now))
    if unit_id not in cards:
        raise NotFound(f"unit {unit_id!r} does not exist")
    return cards[unit_id]


def _may_see(actor: Actor, unit_id: str) -> bool:
    return actor.role is Role.COORDINATOR or actor.unit_id == unit_id


def partner_scores(*, session: Session, settings: Settings, now: datetime) -> dict[str, float]:
    """Every member unit's score in [0, 1] (see :mod:`cloud.scorecards.scoring` for the
    formula), for partner search to rank candidates by; computed once for the whole network."""
    cards = compute(session=session, network=settings.network, window=Window.of(settings, now))
    return {unit_id: card.score for unit_id, card in cards.items()}
