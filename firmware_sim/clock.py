"""The simulated clock: wall-clock time compressed by a time scale.

Simulated time = start + scale * (wall-clock seconds since start). Every timestamp the simulator
reports (value SourceTimestamps, job actual start/end, event Time, ``SimulationTime``) is read
from this clock, so a 40-minute operation at 600x takes 4 s of wall-clock time and still shows
40 minutes between its actual start and end.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

DEFAULT_TIME_SCALE = 1.0


class SimClock:
    """Simulated time driven by a monotonic wall clock (injectable for tests)."""

    def __init__(
        self,
        scale: float = DEFAULT_TIME_SCALE,
        start: datetime | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if scale <= 0:
            raise ValueError(f"time scale must be positive, got {scale}")
        self.scale = scale
        self.start = start or datetime.now(UTC)
        self._monotonic = monotonic
        self._origin = monotonic()

    def begin(self) -> None:
        """Make simulated time begin (at ``start``) now rather than at construction.

        A plant server calls this once it listens, before its first tick: the seconds asyncua
        takes to build a server would otherwise pass as hours at a high time scale.
        """
        self._origin = self._monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed_s())

    def elapsed_s(self) -> float:
        """Simulated seconds since the clock started."""
        return (self._monotonic() - self._origin) * self.scale
