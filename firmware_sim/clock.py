"""The simulated clock: wall-clock time compressed by a time scale.

Simulated (plant) time = start + scale * (wall-clock seconds since start). The simulation runs on
it: wear by operating hours, a job's planned duration, a solar product's daylight, so a 40-minute
operation at 600x takes 4 s of wall-clock time. What the simulator *reports* is stamped with the
wall clock (:meth:`SimClock.wall`): value SourceTimestamps, job StartTime/EndTime, event Time.
A simulated plant is a real OPC UA server, and time compression must not leak onto the network
as timestamps in the future: the 40-minute operation's StartTime and EndTime are 4 s apart, and
its planned 2,400 s stay in its job order. Only ``SimulationTime`` reads the plant time (see
docs/machines.md, "Time").

With an ``origin`` the clock is the coordinator's plant clock (``orders.plant_clock_origin``):
plant = origin + scale * (wall - origin), the instant where both read the same. A simulated
plant started at any moment then reads the plant time the coordinator plans in, so its shifts
and the plan's calendars agree; without one it starts at the wall clock.
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
        *,
        origin: datetime | None = None,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if scale <= 0:
            raise ValueError(f"time scale must be positive, got {scale}")
        if origin is not None and origin.tzinfo is None:
            raise ValueError("the plant clock origin needs a time zone")
        self.scale = scale
        self.origin = origin
        self._wall = wall
        self.start = start or self._plant_now()
        self._monotonic = monotonic
        self._origin = monotonic()
        self._wall_start = wall()

    def _plant_now(self) -> datetime:
        now = self._wall()
        if self.origin is None:
            return now
        return self.origin + (now - self.origin) * self.scale

    def begin(self) -> None:
        """Make simulated time begin (at ``start``) now rather than at construction.

        A plant server calls this once it listens, before its first tick: the seconds asyncua
        takes to build a server would otherwise pass as hours at a high time scale. On a plant
        clock (``origin``) it begins at the plant time of now instead, so it keeps reading the
        coordinator's plant time.
        """
        if self.origin is not None:
            self.start = self._plant_now()
        self._origin = self._monotonic()
        self._wall_start = self._wall()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed_s())

    def wall(self, plant: datetime) -> datetime:
        """The wall-clock time at which this clock reads (or read) ``plant``: how the simulator
        stamps what it reports."""
        return self._wall_start + (plant - self.start) / self.scale

    def elapsed_s(self) -> float:
        """Simulated seconds since the clock started."""
        return (self._monotonic() - self._origin) * self.scale
