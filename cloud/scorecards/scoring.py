"""A member's score for partner search, and the network's percentiles: pure functions.

The score is a weighted mean, in [0, 1], of the figures the member has:

    on time         on_time                     weight 0.30
    no rejections   1 - rejection_rate          weight 0.20
    availability    availability                weight 0.20
    quantity        min(1, quantity_ratio)      weight 0.15
    responsiveness  responsiveness              weight 0.15

(responsiveness: per invitation, the share of the time to its deadline left when it was
answered, 0 when it was not answered by then; averaged.)

A figure without events to judge it (``None``) drops out and the remaining weights are scaled
up; a member with none at all (a newcomer) scores :data:`NEUTRAL_SCORE`, neither favoured nor
penalised.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from cloud.scorecards.models import Percentiles

WEIGHTS = {
    "on_time": 0.30,
    "reliability": 0.20,
    "availability": 0.20,
    "quantity": 0.15,
    "responsiveness": 0.15,
}
NEUTRAL_SCORE = 0.5


def score(
    *,
    on_time: float | None,
    rejection_rate: float | None,
    availability: float | None,
    quantity_ratio: float | None,
    responsiveness: float | None = None,
) -> float:
    parts = {
        "on_time": on_time,
        "reliability": None if rejection_rate is None else 1 - rejection_rate,
        "availability": availability,
        "quantity": None if quantity_ratio is None else min(1.0, quantity_ratio),
        "responsiveness": responsiveness,
    }
    known = {name: value for name, value in parts.items() if value is not None}
    if not known:
        return NEUTRAL_SCORE
    weight = sum(WEIGHTS[name] for name in known)
    total = sum(WEIGHTS[name] * max(0.0, min(1.0, value)) for name, value in known.items())
    return round(total / weight, 4)


def percentiles(values: Sequence[float | None]) -> Percentiles:
    """p25, p50 and p75 of the values given (``None`` left out), interpolated between them."""
    known = sorted(value for value in values if value is not None)
    if not known:
        return Percentiles(members=0, p25=None, p50=None, p75=None)
    if len(known) == 1:
        only = known[0]
        return Percentiles(members=1, p25=only, p50=only, p75=only)
    p25, p50, p75 = statistics.quantiles(known, n=4, method="inclusive")
    return Percentiles(members=len(known), p25=round(p25, 4), p50=round(p50, 4), p75=round(p75, 4))
