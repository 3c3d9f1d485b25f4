"""A plant calendar as open periods: its weekly shifts, holidays and exceptional openings, read in
the plant's time zone, turned into UTC intervals over a span of time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from cloud.registry.models import PlantCalendarSet

Period = tuple[datetime, datetime]


def open_periods(calendar: PlantCalendarSet, start: datetime, end: datetime) -> list[Period]:
    """The plant's open periods that meet ``[start, end)``, clipped to it, in UTC, sorted, with
    overlapping or touching ones (a night shift and the next morning's) merged."""
    zone = ZoneInfo(calendar.timezone)
    periods = sorted(
        (max(a, start), min(b, end))
        for a, b in _local_periods(calendar, zone, start, end)
        if a < end and start < b
    )
    merged: list[Period] = []
    for a, b in periods:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def _local_periods(
    calendar: PlantCalendarSet, zone: ZoneInfo, start: datetime, end: datetime
) -> Iterator[Period]:
    holidays = set(calendar.holidays)
    openings: dict[date, list[tuple[int, int]]] = {}
    for opening in calendar.openings:
        openings.setdefault(opening.date, []).append(opening.minutes())
    # A night shift that began the day before may still run at ``start``.
    day = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date()
    while day <= last:
        if day not in holidays:
            for shift in calendar.shifts:
                if shift.weekday == day.weekday():
                    begin, finish = shift.minutes()
                    yield _at(day, begin, zone), _at(day, finish, zone)
        for begin, finish in openings.get(day, []):
            yield _at(day, begin, zone), _at(day, finish, zone)
        day += timedelta(days=1)


def _at(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    """Local wall-clock time ``minutes`` after the day's midnight, in UTC."""
    days, minutes = divmod(minutes, 24 * 60)
    local = datetime(day.year, day.month, day.day, tzinfo=zone) + timedelta(days=days)
    return (local + timedelta(minutes=minutes)).astimezone(UTC)
