"""A plant calendar as UTC open periods: time zone and daylight saving, night shifts, holidays,
openings; and the demo's accelerated plant clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cloud.dispatch.planning import PlantClock
from cloud.registry.calendars import open_periods
from cloud.registry.models import PlantCalendarSet, Shift
from glonet.demo_network import plant_clock_origin


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


ROME = PlantCalendarSet(
    timezone="Europe/Rome",
    shifts=[
        *(Shift(weekday=day, start="06:00", end="14:00") for day in range(5)),
        Shift(weekday=4, start="22:00", end="06:00"),  # Friday night into Saturday
    ],
    holidays=["2026-12-08"],
    openings=[{"date": "2026-12-12", "start": "06:00", "end": "10:00"}],
)


def test_shifts_holidays_night_shifts_and_openings_in_the_plants_zone() -> None:
    periods = open_periods(ROME, utc(2026, 12, 7), utc(2026, 12, 14))
    assert periods == [
        (utc(2026, 12, 7, 5), utc(2026, 12, 7, 13)),  # Monday, 06:00-14:00 in Rome (UTC+1)
        # Tuesday 8 December is a holiday.
        (utc(2026, 12, 9, 5), utc(2026, 12, 9, 13)),
        (utc(2026, 12, 10, 5), utc(2026, 12, 10, 13)),
        (utc(2026, 12, 11, 5), utc(2026, 12, 11, 13)),
        # The night shift and Saturday's opening touch: one period.
        (utc(2026, 12, 11, 21), utc(2026, 12, 12, 9)),
    ]


def test_daylight_saving_time_moves_the_shifts_in_utc() -> None:
    summer = open_periods(ROME, utc(2026, 7, 6), utc(2026, 7, 7))
    assert summer == [(utc(2026, 7, 6, 4), utc(2026, 7, 6, 12))]  # UTC+2


def test_periods_are_clipped_to_the_span_asked_for() -> None:
    periods = open_periods(ROME, utc(2026, 12, 7, 9), utc(2026, 12, 7, 10))
    assert periods == [(utc(2026, 12, 7, 9), utc(2026, 12, 7, 10))]


def test_the_demo_plant_clock_starts_on_a_monday_morning() -> None:
    now = utc(2026, 12, 6, 15, 13)  # a Sunday
    clock = PlantClock(1200.0, plant_clock_origin(now, 1200.0))
    started = clock.plant(now)
    assert abs(started - utc(2026, 11, 30, 5)) < timedelta(seconds=1)
    assert abs(clock.wall(started) - now) < timedelta(milliseconds=1)
    a_day_later = clock.plant(now + timedelta(seconds=72)) - started
    assert abs(a_day_later - timedelta(days=1)) < timedelta(milliseconds=1)
