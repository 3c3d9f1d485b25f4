"""Technician routes with OR-Tools' routing library.

Vehicles are the technicians' shifts (start and end places, working hours as the start and end
time windows; the drive home is an arc cost but not working time); nodes are the visits, each
with its duration, allowed only on the shifts of the technicians who may do it (skill, service
area, pinned, not had before), a soft upper bound at its due time (a minute late costs
:data:`LATE_WEIGHT` by priority, so a miss is counted, not infeasible) and a disjunction with
:data:`DROP_PENALTY` so that a visit nobody can fit is dropped instead of making the model
infeasible. Arc costs are the driving minutes.

The search starts from the greedy baseline's routes (when given) or from the cheapest arcs, and
improves with guided local search until ``time_limit``. The solver's sequences are then timed as
early as possible (:func:`problem.timed_route`), so the plan's cost is never above the solver's
objective, which is never above the starting routes'. Should the search end before it even
read the starting routes (a time limit too short for a loaded machine), the starting plan is
returned as it is.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import timedelta

from ortools.constraint_solver import pywrapcp, routing_enums_pb2

from cloud.maintenance.assignment import TechnicianProfile
from cloud.maintenance.visits.problem import (
    DROP_PENALTY,
    LATE_WEIGHT,
    MAX_CALENDAR_DAYS,
    Route,
    RoutePlan,
    RouteProblem,
    Shift,
    Visit,
    figures,
    shifts,
    timed_route,
    travel_minutes,
    why_not,
)

_LOGGER = logging.getLogger(__name__)
DEFAULT_TIME_LIMIT = timedelta(seconds=1)
SOLVER = "or-tools"


class RoutePlanningError(RuntimeError):
    """The solver returned routes that cannot be timed (a bug, not an input problem)."""


def plan_routes(
    problem: RouteProblem,
    *,
    time_limit: timedelta = DEFAULT_TIME_LIMIT,
    start_from: RoutePlan | None = None,
) -> RoutePlan:
    """The routes for ``problem``, found within ``time_limit`` (plus the model's set-up)."""
    began = time.perf_counter()
    periods = shifts(problem)
    dropped: dict[str, str] = {}
    servable: list[Visit] = []
    allowed: dict[str, list[int]] = {}
    for visit in problem.visits:
        vehicles = [
            k
            for k, shift in enumerate(periods)
            if why_not(_technician(problem, shift.technician), visit) is None
        ]
        if vehicles:
            servable.append(visit)
            allowed[visit.id] = vehicles
        else:
            dropped[visit.id] = unservable_reason(problem, visit, periods)
    if not servable:
        return RoutePlan((), dropped, SOLVER, time.perf_counter() - began)
    sequences = _solve(problem, periods, servable, allowed, time_limit, start_from)
    if sequences is None:
        dropped |= {v.id: f"no route found within {time_limit}" for v in servable}
        sequences = []
    routes: list[Route] = []
    for k, visits in enumerate(sequences):
        if not visits:
            continue
        route = timed_route(problem, periods[k], visits)
        if route is None:
            raise RoutePlanningError(f"shift {k} of {periods[k].technician} cannot be timed")
        routes.append(route)
    routed = {s.visit for r in routes for s in r.stops}
    for visit in servable:
        if visit.id not in routed and visit.id not in dropped:
            dropped[visit.id] = no_time_reason(problem, visit, periods, allowed[visit.id])
    routes.sort(key=lambda r: (r.technician, r.day))
    plan = RoutePlan(tuple(routes), dropped, SOLVER, time.perf_counter() - began)
    if start_from is not None and figures(problem, start_from).cost < figures(problem, plan).cost:
        # The search ran out of time before it read the starting routes (a loaded machine).
        _LOGGER.info("route search found nothing better in %s; the starting plan stays", time_limit)
        return replace(start_from, solve_seconds=time.perf_counter() - began)
    return plan


def _technician(problem: RouteProblem, technician_id: str) -> TechnicianProfile:
    return next(t for t in problem.technicians if t.id == technician_id)


def unservable_reason(problem: RouteProblem, visit: Visit, periods: Sequence[Shift]) -> str:
    """Why no technician may do the visit at all (skill, area, pinning), or has no hours."""
    if not problem.technicians:
        return "no technicians in the network"
    why = [f"{t.id}: {why_not(t, visit)}" for t in problem.technicians if why_not(t, visit)]
    if not why:
        return f"no eligible technician works in the next {MAX_CALENDAR_DAYS} days"
    return "no eligible technician (" + "; ".join(why[:5]) + ")"


def no_time_reason(
    problem: RouteProblem, visit: Visit, periods: Sequence[Shift], vehicles: Sequence[int]
) -> str:
    names = sorted({periods[k].technician for k in vehicles})
    return (
        f"does not fit in the next {problem.horizon_days} working day(s) of"
        f" {', '.join(names)} (with travel and their other visits)"
    )


def _solve(
    problem: RouteProblem,
    periods: Sequence[Shift],
    visits: Sequence[Visit],
    allowed: dict[str, list[int]],
    time_limit: timedelta,
    start_from: RoutePlan | None,
) -> list[list[Visit]] | None:
    """Each shift's visits in order; None if the search found no solution in time."""
    n, vehicles = len(visits), len(periods)
    places = [v.location for v in visits]
    for shift in periods:
        places += [shift.start_location, shift.end_location]
    matrix = [[travel_minutes(a, b) for b in places] for a in places]
    service = [v.duration_minutes for v in visits] + [0] * (2 * vehicles)
    manager = pywrapcp.RoutingIndexManager(
        len(places),
        vehicles,
        [n + 2 * k for k in range(vehicles)],
        [n + 2 * k + 1 for k in range(vehicles)],
    )
    model = pywrapcp.RoutingModel(manager)
    homes = {n + 2 * k + 1 for k in range(vehicles)}

    def drive(i: int, j: int) -> int:
        return matrix[manager.IndexToNode(i)][manager.IndexToNode(j)]

    def busy(i: int, j: int) -> int:
        a, b = manager.IndexToNode(i), manager.IndexToNode(j)
        return service[a] + (0 if b in homes else matrix[a][b])  # driving home: own time

    model.SetArcCostEvaluatorOfAllVehicles(model.RegisterTransitCallback(drive))
    horizon = max(s.end for s in periods)
    model.AddDimension(model.RegisterTransitCallback(busy), horizon, horizon, False, "time")
    clock = model.GetDimensionOrDie("time")
    for k, shift in enumerate(periods):
        clock.CumulVar(model.Start(k)).SetRange(shift.start, shift.end)
        clock.CumulVar(model.End(k)).SetRange(shift.start, shift.end)
    for node, visit in enumerate(visits):
        index = manager.NodeToIndex(node)
        model.VehicleVar(index).SetValues([-1, *allowed[visit.id]])  # -1: dropped
        latest_start = max(0, problem.minute(visit.due) - visit.duration_minutes)
        clock.SetCumulVarSoftUpperBound(index, latest_start, LATE_WEIGHT[visit.priority])
        model.AddDisjunction([index], DROP_PENALTY[visit.priority])
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = routing_enums_pb2.FirstSolutionStrategy.PATH_CHEAPEST_ARC
    params.local_search_metaheuristic = (
        routing_enums_pb2.LocalSearchMetaheuristic.GUIDED_LOCAL_SEARCH
    )
    params.time_limit.FromMilliseconds(max(1, int(time_limit / timedelta(milliseconds=1))))
    model.CloseModelWithParameters(params)
    initial = None
    if start_from is not None:
        initial = model.ReadAssignmentFromRoutes(_start_routes(start_from, periods, visits), True)
    solution = (
        model.SolveFromAssignmentWithParameters(initial, params)
        if initial is not None
        else model.SolveWithParameters(params)
    )
    if solution is None:
        return None
    result = []
    for k in range(vehicles):
        index, sequence = solution.Value(model.NextVar(model.Start(k))), []
        while not model.IsEnd(index):
            sequence.append(visits[manager.IndexToNode(index)])
            index = solution.Value(model.NextVar(index))
        result.append(sequence)
    return result


def _start_routes(
    plan: RoutePlan, periods: Sequence[Shift], visits: Sequence[Visit]
) -> list[list[int]]:
    """The plan's routes as node lists per shift (visits the model has, in its order)."""
    node = {v.id: i for i, v in enumerate(visits)}
    shift_of = {(s.technician, s.day): k for k, s in enumerate(periods)}
    routes: list[list[int]] = [[] for _ in periods]
    for route in plan.routes:
        k = shift_of.get((route.technician, route.day))
        if k is not None:
            routes[k] = [node[s.visit] for s in route.stops if s.visit in node]
    return routes
