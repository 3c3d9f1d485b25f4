"""The technician-visit problem: visits at sites, technicians with skills and working hours,
travel between sites, due times weighted by priority; and what a plan costs.

Pure data and arithmetic, with the clock passed in as ``now``. Time is counted in whole minutes
from an ``origin`` no later than ``now`` or than any visit's latest start, so that every due
bound is a non-negative number (the OR-Tools model needs that). Travel is rounded up to whole
minutes, the same for the planner, the greedy baseline and the validator.

A technician's working hours become **shifts** (one per working day, for their next
``horizon_days`` working days): a shift starts at the technician's current location (today's) or
at home, and holds the visits done that day, the last one ending within the hours; the drive
home after it counts as travel but may end later (a technician far from home finishes the visit
in hours and drives back); a technician is at their current location only today. A plan is a
list of routes, one per shift used, and the visits dropped with the reason why.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cloud.maintenance.assignment import Location, TechnicianProfile, distance_km, travel_time

DEFAULT_VISIT_MINUTES: Mapping[str, int] = {"corrective": 90, "preventive": 120}
DEFAULT_HORIZON_DAYS = 3
"""Working days planned ahead, per technician."""
MAX_CALENDAR_DAYS = 14
LATE_WEIGHT: Mapping[str, int] = {"P1": 50, "P2": 20, "P3": 5, "P4": 1}
"""Cost per minute a visit ends after its due time, by priority."""
DROP_PENALTY: Mapping[str, int] = {
    "P1": 4_000_000,
    "P2": 3_000_000,
    "P3": 2_000_000,
    "P4": 1_000_000,
}
"""Cost of not serving a visit at all: more than any travel and lateness a plan can save."""
MINUTE = timedelta(minutes=1)


@dataclass(frozen=True)
class RouteOptions:
    """How visits are planned: durations by ticket kind, the horizon, the solver's budget, and
    how much longer a visit that runs past its planned end is expected to take."""

    visit_minutes: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_VISIT_MINUTES))
    horizon_days: int = DEFAULT_HORIZON_DAYS
    solve_time: timedelta = timedelta(seconds=1)
    solve_time_per_visit: timedelta = timedelta(milliseconds=50)
    quick_solve_time: timedelta = timedelta(milliseconds=200)
    """The cap for one new ticket's re-plan, which runs in the ingest batch or the request."""
    overrun: timedelta = timedelta(minutes=30)

    def duration(self, kind: str) -> int:
        return self.visit_minutes.get(kind, max(self.visit_minutes.values(), default=60))

    def time_limit(self, visits: int) -> timedelta:
        """Guided local search runs until its limit: a few visits get a few tens of ms."""
        return min(self.solve_time, self.solve_time_per_visit * max(1, visits))


@dataclass(frozen=True)
class Visit:
    """One ticket's visit: where, what skill, how long, due when, how urgent."""

    id: str
    site: str
    unit: str
    location: Location
    skill: str
    duration_minutes: int
    due: datetime
    priority: str
    technician: str | None = None
    """Pinned to this technician (acknowledged or started); None: any eligible one."""
    excluded: frozenset[str] = frozenset()
    """Technicians who had it before (escalation moved it away from them)."""


@dataclass(frozen=True)
class RouteProblem:
    visits: Sequence[Visit]
    technicians: Sequence[TechnicianProfile]
    now: datetime
    busy_until: Mapping[str, datetime] = field(default_factory=dict)
    """A technician busy with a visit in progress until then (at ``current_location``)."""
    horizon_days: int = DEFAULT_HORIZON_DAYS

    @property
    def origin(self) -> datetime:
        earliest = min([self.now, *(v.due - v.duration_minutes * MINUTE for v in self.visits)])
        return earliest.replace(second=0, microsecond=0)

    def minute(self, at: datetime) -> int:
        """``at`` in whole minutes from the origin, rounded down."""
        return math.floor((at - self.origin) / MINUTE)

    def at(self, minute: int) -> datetime:
        return self.origin + minute * MINUTE


@dataclass(frozen=True)
class Shift:
    technician: str
    day: int
    start: int
    end: int
    start_location: Location
    end_location: Location


@dataclass(frozen=True)
class Stop:
    visit: str
    site: str
    arrive: datetime
    start: datetime
    end: datetime
    travel_minutes: int
    distance_km: float
    late_minutes: int


@dataclass(frozen=True)
class Route:
    technician: str
    day: int
    shift_start: datetime
    shift_end: datetime
    stops: tuple[Stop, ...]
    return_minutes: int

    @property
    def travel_minutes(self) -> int:
        return sum(s.travel_minutes for s in self.stops) + self.return_minutes


@dataclass(frozen=True)
class RoutePlan:
    routes: tuple[Route, ...]
    dropped: Mapping[str, str]
    """Visit id → why it is not served."""
    solver: str
    solve_seconds: float = 0.0

    def stops_of(self, technician: str) -> list[Stop]:
        return [s for r in self.routes if r.technician == technician for s in r.stops]

    def technician_of(self, visit: str) -> str | None:
        for route in self.routes:
            if any(s.visit == visit for s in route.stops):
                return route.technician
        return None


@dataclass(frozen=True)
class PlanFigures:
    """What a plan is judged by: service-level misses (late or not served), travel, cost."""

    late: int
    dropped: int
    travel_minutes: int
    late_minutes: int
    cost: int

    @property
    def misses(self) -> int:
        return self.late + self.dropped


def figures(problem: RouteProblem, plan: RoutePlan) -> PlanFigures:
    """The plan's figures; ``cost`` is the objective both planners are compared on: travel
    minutes, plus minutes late weighted by priority, plus a drop penalty per visit not served."""
    priority = {v.id: v.priority for v in problem.visits}
    stops = [s for r in plan.routes for s in r.stops]
    travel = sum(r.travel_minutes for r in plan.routes)
    late_cost = sum(LATE_WEIGHT[priority[s.visit]] * s.late_minutes for s in stops)
    drop_cost = sum(DROP_PENALTY[priority[v]] for v in plan.dropped)
    return PlanFigures(
        late=sum(1 for s in stops if s.late_minutes > 0),
        dropped=len(plan.dropped),
        travel_minutes=travel,
        late_minutes=sum(s.late_minutes for s in stops),
        cost=travel + late_cost + drop_cost,
    )


def travel_minutes(a: Location, b: Location) -> int:
    """Driving time in whole minutes, rounded up."""
    return math.ceil(travel_time(a, b) / MINUTE - 1e-9)


def why_not(technician: TechnicianProfile, visit: Visit) -> str | None:
    """Why a technician may not do a visit, or None if they may."""
    if visit.technician is not None and visit.technician != technician.id:
        return f"pinned to {visit.technician}"
    if technician.id in visit.excluded:
        return "had it before"
    if visit.skill not in technician.skills:
        return f"lacks skill {visit.skill!r}"
    if technician.service_units and visit.unit not in technician.service_units:
        return f"does not serve unit {visit.unit!r}"
    return None


def shifts(problem: RouteProblem) -> list[Shift]:
    """Every technician's next ``horizon_days`` working days (within two weeks), from now or
    from the end of the visit they are on, in minutes from the problem's origin."""
    result = []
    for tech in problem.technicians:
        available = max(problem.now, problem.busy_until.get(tech.id, problem.now))
        found = 0
        for day in range(MAX_CALENDAR_DAYS):
            if found == problem.horizon_days:
                break
            date = problem.now.date() + timedelta(days=day)
            hours = tech.working_hours.shifts.get(date.weekday())
            if hours is None:
                continue
            opens = datetime.combine(date, hours[0], tzinfo=problem.now.tzinfo)
            closes = datetime.combine(date, hours[1], tzinfo=problem.now.tzinfo)
            start = math.ceil((max(opens, available) - problem.origin) / MINUTE)
            end = problem.minute(closes)
            if end <= start:
                continue
            here = (tech.current_location or tech.home) if day == 0 else tech.home
            result.append(Shift(tech.id, day, start, end, here, tech.home))
            found += 1
    return result


def timed_route(problem: RouteProblem, shift: Shift, visits: Sequence[Visit]) -> Route | None:
    """The visits in this order on this shift, each as early as possible; None if the last
    one cannot end within the shift (the drive home after it counts as travel, but may end
    after the working hours)."""
    clock, here, stops = shift.start, shift.start_location, []
    for visit in visits:
        drive = travel_minutes(here, visit.location)
        arrive = clock + drive
        end = arrive + visit.duration_minutes
        late = max(0, end - problem.minute(visit.due))
        stops.append(
            Stop(
                visit=visit.id,
                site=visit.site,
                arrive=problem.at(arrive),
                start=problem.at(arrive),
                end=problem.at(end),
                travel_minutes=drive,
                distance_km=round(distance_km(here, visit.location), 1),
                late_minutes=late,
            )
        )
        clock, here = end, visit.location
    if clock > shift.end:
        return None
    back = travel_minutes(here, shift.end_location) if stops else 0
    return Route(
        shift.technician,
        shift.day,
        problem.at(shift.start),
        problem.at(shift.end),
        tuple(stops),
        back,
    )
