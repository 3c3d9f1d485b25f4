"""An independent check of technician routes, written without the planners' code: it reads
only the problem's data (visits, technicians, working hours, the travel-time rule) and the
plan's stops, and lists every rule a plan breaks.

- every visit is served at most once, or dropped with a reason, never both;
- a technician's visits are in time order, each lasting its duration, with at least the
  travel time between consecutive places (from the start place to the first);
- every visit lies within the technician's working hours of that day (the drive home after
  the last one may end later), not before now, nor
  before the end of the visit they are busy with;
- the technician has the skill, serves the unit, is the one the visit is pinned to, and is
  not one who had it before;
- the minutes late are what the due time says.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from cloud.maintenance.assignment import Location, TechnicianProfile
from cloud.maintenance.visits.problem import RoutePlan, RouteProblem, Stop, Visit, travel_minutes

MINUTE = timedelta(minutes=1)


def violations(problem: RouteProblem, plan: RoutePlan) -> list[str]:
    """Every broken rule, as a sentence; an empty list means the plan is feasible."""
    visits = {v.id: v for v in problem.visits}
    technicians = {t.id: t for t in problem.technicians}
    found: list[str] = []
    served: dict[str, str] = {}
    for route in plan.routes:
        tech = technicians.get(route.technician)
        if tech is None:
            found.append(f"unknown technician {route.technician}")
            continue
        for stop in route.stops:
            if stop.visit in served:
                found.append(f"visit {stop.visit} served twice")
            served[stop.visit] = tech.id
            visit = visits.get(stop.visit)
            if visit is None:
                found.append(f"unknown visit {stop.visit}")
                continue
            found += _eligibility(tech, visit) + _timing(problem, visit, stop)
        found += _route(problem, tech, route.day, list(route.stops), visits)
    found += _days_apart(plan)
    for visit_id, reason in plan.dropped.items():
        if visit_id in served:
            found.append(f"visit {visit_id} both served and dropped")
        if not reason:
            found.append(f"visit {visit_id} dropped without a reason")
    missing = set(visits) - set(served) - set(plan.dropped)
    found += [f"visit {v} neither served nor dropped" for v in sorted(missing)]
    return found


def _eligibility(tech: TechnicianProfile, visit: Visit) -> list[str]:
    found = []
    if visit.skill not in tech.skills:
        found.append(f"{tech.id} lacks skill {visit.skill} for visit {visit.id}")
    if tech.service_units and visit.unit not in tech.service_units:
        found.append(f"{tech.id} does not serve unit {visit.unit} (visit {visit.id})")
    if visit.technician not in (None, tech.id):
        found.append(f"visit {visit.id} is pinned to {visit.technician}, not {tech.id}")
    if tech.id in visit.excluded:
        found.append(f"visit {visit.id} went back to {tech.id}, who had it before")
    return found


def _timing(problem: RouteProblem, visit: Visit, stop: Stop) -> list[str]:
    found = []
    if stop.start < stop.arrive:
        found.append(f"visit {visit.id} starts before the technician arrives")
    if stop.end - stop.start != visit.duration_minutes * MINUTE:
        found.append(f"visit {visit.id} does not last its {visit.duration_minutes} minutes")
    late = max(0, (stop.end - visit.due) // MINUTE) if stop.end > visit.due else 0
    if abs(stop.late_minutes - late) > 1:  # the due time is counted in whole minutes
        found.append(f"visit {visit.id} is {late} minutes late, not {stop.late_minutes}")
    if stop.start < problem.now:
        found.append(f"visit {visit.id} starts in the past")
    return found


def _route(
    problem: RouteProblem,
    tech: TechnicianProfile,
    day: int,
    stops: list[Stop],
    visits: dict[str, Visit],
) -> list[str]:
    if not stops:
        return []
    found = []
    date = stops[0].arrive.date()
    if date != (problem.now + timedelta(days=day)).date():
        found.append(f"{tech.id}'s day {day} route is on {date}")
    hours = tech.working_hours.shifts.get(date.weekday())
    if hours is None:
        return [*found, f"{tech.id} does not work on {date}"]
    opens = datetime.combine(date, hours[0], tzinfo=stops[0].arrive.tzinfo)
    closes = datetime.combine(date, hours[1], tzinfo=stops[0].arrive.tzinfo)
    busy = problem.busy_until.get(tech.id, problem.now)
    leaves = max(opens, problem.now, busy)
    here = (tech.current_location or tech.home) if date == problem.now.date() else tech.home
    for stop in stops:
        visit = visits.get(stop.visit)
        if visit is None:
            return found
        found += _drive(tech, here, visit.location, leaves, stop.arrive, stop.visit)
        leaves, here = stop.end, visit.location
    if leaves > closes:
        found.append(f"{tech.id} works past the end of their hours on {date}")
    return found


def _drive(
    tech: TechnicianProfile,
    origin: Location,
    target: Location,
    leaves: datetime,
    arrives: datetime,
    to: str,
) -> list[str]:
    needed = travel_minutes(origin, target) * MINUTE
    if arrives < leaves + needed:
        return [f"{tech.id} cannot reach visit {to} by {arrives:%a %H:%M} ({needed} drive)"]
    return []


def _days_apart(plan: RoutePlan) -> list[str]:
    seen: set[tuple[str, int]] = set()
    found = []
    for route in plan.routes:
        key = (route.technician, route.day)
        if key in seen:
            found.append(f"{route.technician} has two routes on day {route.day}")
        seen.add(key)
    return found
