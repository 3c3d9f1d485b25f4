"""Today's assignment as a routing baseline: each visit, in the order the tickets came, goes to
the best-ranked eligible technician by :func:`assignment.rank_technicians` (minutes until they
could be at the site from home or from their current job, plus 45 minutes per ticket they
already hold); the technician then works their tickets in the order received, each shift
starting from home, as early as possible. A visit that does not fit the best technician's
remaining hours goes to the next one; one that fits nobody's is dropped.

It is what the coordinator did before visits were routed, made into routes so that the planner
can be compared with it on the same figures (:func:`problem.figures`), and the planner's search
starts from it.
"""

from __future__ import annotations

from dataclasses import replace

from cloud.maintenance.assignment import rank_technicians
from cloud.maintenance.visits.planner import no_time_reason, unservable_reason
from cloud.maintenance.visits.problem import (
    Route,
    RoutePlan,
    RouteProblem,
    Shift,
    Visit,
    shifts,
    timed_route,
    why_not,
)

SOLVER = "greedy"


def greedy_plan(problem: RouteProblem) -> RoutePlan:
    periods = shifts(problem)
    of_technician: dict[str, list[int]] = {}
    for k, shift in enumerate(periods):
        of_technician.setdefault(shift.technician, []).append(k)
    current = {tech: 0 for tech in of_technician}  # position in of_technician[tech]
    queued: dict[int, list[Visit]] = {k: [] for k in range(len(periods))}
    held = {t.id: 0 for t in problem.technicians}
    dropped: dict[str, str] = {}
    for visit in problem.visits:
        pool = [
            replace(t, open_tickets=held[t.id])
            for t in problem.technicians
            if why_not(t, visit) is None and t.id in of_technician
        ]
        if not pool:
            dropped[visit.id] = unservable_reason(problem, visit, periods)
            continue
        ranked = rank_technicians(
            pool,
            skill=visit.skill,
            asset_unit=visit.unit,
            asset_location=visit.location,
            at=problem.now,
        )
        for candidate in (c for c in ranked if c.eligible):
            tech = candidate.technician
            if _append(problem, periods, of_technician[tech], current, tech, queued, visit):
                held[tech] += 1
                break
        else:
            vehicles = [k for t in pool for k in of_technician[t.id]]
            dropped[visit.id] = no_time_reason(problem, visit, periods, vehicles)
    routes = [
        route
        for k, visits in queued.items()
        if visits and (route := timed_route(problem, periods[k], visits)) is not None
    ]
    routes.sort(key=lambda r: (r.technician, r.day))
    return RoutePlan(tuple(routes), dropped, SOLVER)


def _append(
    problem: RouteProblem,
    periods: list[Shift],
    own: list[int],
    current: dict[str, int],
    tech: str,
    queued: dict[int, list[Visit]],
    visit: Visit,
) -> bool:
    """Put the visit at the end of the technician's work: today's shift if it fits, else the
    next shift it fits (later visits then start from there)."""
    for position in range(current[tech], len(own)):
        k = own[position]
        route: Route | None = timed_route(problem, periods[k], [*queued[k], visit])
        if route is not None:
            queued[k].append(visit)
            current[tech] = position
            return True
    return False
