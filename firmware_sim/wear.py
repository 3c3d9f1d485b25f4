"""Degradation of a machine: grows with operating hours and load, reset by a repair.

Wear is a number from 0 (new) upwards; the machine breaks down when it reaches its breakdown
level (near 1.0). Gauges drift up with wear, so alarms fire at lower levels before the
breakdown: a trend a predictive maintenance rule can see coming.

Determinism: the machine's wear rate and breakdown level are drawn once from a generator seeded
with (seed, machine id), and wear is the exact integral of rate * load over operating time. The
same seed and the same load history give the same wear and the same breakdown time, however the
simulation steps are cut.
"""

from __future__ import annotations

import random

RATE_SPREAD = 0.25  # lognormal sigma of the machine-to-machine wear rate spread
BREAKDOWN_LEVEL_RANGE = (0.95, 1.05)
IDLE_WEAR_SHARE = 0.2  # running without load still wears a little (bearings, seals)


class WearModel:
    def __init__(self, *, rate_per_hour: float, seed: int, key: str, initial: float = 0.0) -> None:
        rng = random.Random(f"{seed}:{key}:wear")
        self.rate_per_hour = rate_per_hour * rng.lognormvariate(0.0, RATE_SPREAD)
        self.breakdown_level = rng.uniform(*BREAKDOWN_LEVEL_RANGE)
        self.wear = initial

    def advance(self, hours: float, load: float) -> None:
        """Add ``hours`` of operation at ``load`` (0 idle … 1 rated … 1.5 overload)."""
        if hours <= 0:
            return
        factor = IDLE_WEAR_SHARE + (1 - IDLE_WEAR_SHARE) * max(load, 0.0)
        self.wear += self.rate_per_hour * hours * factor

    @property
    def broken(self) -> bool:
        return self.wear >= self.breakdown_level

    def hours_to_breakdown(self, load: float) -> float:
        """Operating hours at ``load`` until breakdown, from the current wear."""
        factor = IDLE_WEAR_SHARE + (1 - IDLE_WEAR_SHARE) * max(load, 0.0)
        return max(self.breakdown_level - self.wear, 0.0) / (self.rate_per_hour * factor)

    def break_now(self) -> None:
        self.wear = max(self.wear, self.breakdown_level)

    def reset(self) -> None:
        self.wear = 0.0
