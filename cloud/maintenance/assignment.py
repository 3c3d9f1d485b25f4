"""Choose the technician for a ticket: skill, service area, travel time, working hours, load.

Every candidate is scored in minutes until they could be at the asset, plus a penalty per open
ticket; candidates who lack the skill or serve another area are excluded with the reason, so the
coordinator sees why a technician was (not) chosen and can override.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from cloud.geo import Location, distance_km

DEFAULT_ROAD_FACTOR = 1.3
DEFAULT_SPEED_KMH = 60.0
DEFAULT_LOAD_PENALTY = timedelta(minutes=45)
MAX_WAIT = timedelta(days=7)


def travel_time(
    a: Location,
    b: Location,
    *,
    road_factor: float = DEFAULT_ROAD_FACTOR,
    speed_kmh: float = DEFAULT_SPEED_KMH,
) -> timedelta:
    """Driving time estimated from distance (roads are longer than the great circle)."""
    return timedelta(hours=distance_km(a, b) * road_factor / speed_kmh)


@dataclass(frozen=True)
class WorkingHours:
    """Per weekday (0 = Monday) the shift start and end; days not listed are off."""

    shifts: Mapping[int, tuple[time, time]]

    @classmethod
    def weekdays(cls, start: time = time(7), end: time = time(17)) -> WorkingHours:
        return cls({day: (start, end) for day in range(5)})

    def next_available(self, at: datetime) -> datetime | None:
        """``at`` if within a shift, else the start of the next shift (within a week)."""
        for offset in range(8):
            day = at.date() + timedelta(days=offset)
            shift = self.shifts.get(day.weekday())
            if shift is None:
                continue
            start = datetime.combine(day, shift[0], tzinfo=at.tzinfo)
            end = datetime.combine(day, shift[1], tzinfo=at.tzinfo)
            if at < end:
                return max(at, start)
        return None


@dataclass(frozen=True)
class TechnicianProfile:
    """A technician as the assignment rules and the route planner see them (the registry's
    :class:`~cloud.registry.models.Technician` row, with their load and where they are now)."""

    id: str
    skills: frozenset[str]
    home: Location
    working_hours: WorkingHours
    employer_unit: str
    service_units: frozenset[str] = frozenset()  # empty: serves the whole network
    open_tickets: int = 0
    current_location: Location | None = None


@dataclass(frozen=True)
class Candidate:
    technician: str
    eligible: bool
    arrival: datetime | None = None
    travel: timedelta | None = None
    score: float = math.inf
    reasons: list[str] = field(default_factory=list)


def rank_technicians(
    technicians: Iterable[TechnicianProfile],
    *,
    skill: str,
    asset_unit: str,
    asset_location: Location,
    at: datetime,
    load_penalty: timedelta = DEFAULT_LOAD_PENALTY,
) -> list[Candidate]:
    """All technicians, eligible first, best (lowest score) first, each with its reasons."""
    candidates = [
        _assess(tech, skill, asset_unit, asset_location, at, load_penalty) for tech in technicians
    ]
    return sorted(candidates, key=lambda c: (not c.eligible, c.score, c.technician))


def choose_technician(
    technicians: Iterable[TechnicianProfile],
    *,
    skill: str,
    asset_unit: str,
    asset_location: Location,
    at: datetime,
) -> Candidate | None:
    ranked = rank_technicians(
        technicians, skill=skill, asset_unit=asset_unit, asset_location=asset_location, at=at
    )
    return ranked[0] if ranked and ranked[0].eligible else None


def _assess(
    tech: TechnicianProfile,
    skill: str,
    asset_unit: str,
    asset_location: Location,
    at: datetime,
    load_penalty: timedelta,
) -> Candidate:
    if skill not in tech.skills:
        return Candidate(tech.id, False, reasons=[f"lacks skill {skill!r}"])
    if tech.service_units and asset_unit not in tech.service_units:
        return Candidate(tech.id, False, reasons=[f"does not serve unit {asset_unit!r}"])
    start = tech.working_hours.next_available(at)
    if start is None or start - at > MAX_WAIT:
        return Candidate(tech.id, False, reasons=["no working hours in the next week"])
    travel = travel_time(tech.current_location or tech.home, asset_location)
    arrival = start + travel
    score = (arrival - at + tech.open_tickets * load_penalty).total_seconds() / 60
    reasons = [
        f"travel {travel.total_seconds() / 60:.0f} min",
        f"available {'now' if start == at else start.isoformat(timespec='minutes')}",
        f"{tech.open_tickets} open ticket(s)",
    ]
    return Candidate(tech.id, True, arrival, travel, round(score, 1), reasons)
