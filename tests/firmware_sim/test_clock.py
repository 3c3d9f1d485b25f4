"""The simulated clock: compressed wall-clock time, optionally on the coordinator's plant clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from firmware_sim.clock import SimClock

ORIGIN = datetime(2026, 12, 6, 19, 0, tzinfo=UTC)


class Clocks:
    """A wall clock and a monotonic clock that move together, by hand."""

    def __init__(self, wall: datetime) -> None:
        self.now = wall
        self.seconds = 100.0

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.seconds += seconds

    def wall(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.seconds


def plant_time(wall: datetime, scale: float) -> datetime:
    """The coordinator's PlantClock.plant, written out."""
    return ORIGIN + (wall - ORIGIN) * scale


def test_on_the_plant_clock_a_plant_reads_the_coordinators_plant_time() -> None:
    # Started 20 wall minutes after the origin at 1200x: the plant clock reads 400 hours on,
    # whenever the simulator started, and keeps reading the coordinator's plant time.
    clocks = Clocks(ORIGIN + timedelta(minutes=20))
    clock = SimClock(1200.0, monotonic=clocks.monotonic, origin=ORIGIN, wall=clocks.wall)
    assert clock.now() == plant_time(clocks.now, 1200.0) == ORIGIN + timedelta(hours=400)
    clocks.advance(7.5)  # building the OPC UA server takes a while
    clock.begin()
    assert clock.now() == plant_time(clocks.now, 1200.0)
    clocks.advance(3.0)
    assert clock.now() == plant_time(clocks.now, 1200.0)


def test_what_the_simulator_reports_is_stamped_with_the_wall_clock() -> None:
    """An hour of plant time passes in 3 s at 1200x: its end is stamped 3 s after its start,
    and now, not an hour ahead of the wall clock (docs/machines.md, "Time")."""
    clocks = Clocks(ORIGIN + timedelta(minutes=20))
    clock = SimClock(1200.0, monotonic=clocks.monotonic, origin=ORIGIN, wall=clocks.wall)
    clock.begin()
    began, started = clocks.now, clock.now()
    clocks.advance(3.0)
    assert clock.now() == started + timedelta(hours=1)
    assert clock.wall(started) == began
    assert clock.wall(clock.now()) == clocks.now == began + timedelta(seconds=3)


def test_without_an_origin_the_clock_starts_at_the_wall_clock() -> None:
    clocks = Clocks(ORIGIN + timedelta(minutes=20))
    clock = SimClock(1200.0, monotonic=clocks.monotonic, wall=clocks.wall)
    clocks.advance(7.5)
    clock.begin()
    assert clock.now() == ORIGIN + timedelta(minutes=20)
    clocks.advance(3.0)
    assert clock.now() == ORIGIN + timedelta(minutes=20, hours=1)


def test_an_origin_needs_a_time_zone() -> None:
    with pytest.raises(ValueError, match="time zone"):
        SimClock(60.0, origin=datetime(2026, 12, 6, 19, 0))
