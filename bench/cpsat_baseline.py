"""The baseline the scheduling core is measured against: the same problem as an OR-Tools CP-SAT
model (optional interval per eligible machine, no-overlap per machine with the unavailability
windows as fixed intervals, precedence with transport times between plants, releases, frozen
operations, makespan and weighted tardiness objective)."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass

from ortools.sat.python import cp_model

from cloud.scheduling import Objective, Problem, ScheduledOperation

# CP-SAT needs integer objective coefficients: weights are scaled by this and rounded.
WEIGHT_SCALE = 100


@dataclass(frozen=True)
class BaselineResult:
    operations: tuple[ScheduledOperation, ...] | None
    makespan: int | None
    status: str
    elapsed: float


@dataclass
class _OpVars:
    start: cp_model.IntVar
    end: cp_model.IntVar
    choices: dict[int, cp_model.IntVar]


def solve_cpsat(
    problem: Problem,
    *,
    time_limit: float,
    workers: int = 2,
    objective: Objective | None = None,
    seed: int = 0,
) -> BaselineResult:
    began = time.perf_counter()
    objective = objective or Objective()
    model = cp_model.CpModel()
    horizon = _horizon(problem)
    ops = _operations(model, problem, horizon)
    _machines(model, problem, ops)
    _precedence(model, problem, ops)
    _objective(model, problem, ops, objective, horizon)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.random_seed = seed
    status = solver.Solve(model)
    name = solver.StatusName(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return BaselineResult(None, None, name, time.perf_counter() - began)
    placed = tuple(_read(solver, problem, ops))
    return BaselineResult(placed, max(o.end for o in placed), name, time.perf_counter() - began)


def _horizon(problem: Problem) -> int:
    """A time by which a serial schedule (one operation after another) would have finished."""
    longest = sum(max(op.durations.values()) for job in problem.jobs for op in job.operations)
    moves = problem.operation_count * max((max(r) for r in problem.transport), default=0)
    latest = max(
        [job.release for job in problem.jobs]
        + [f.start for f in problem.frozen]
        + [w.end for w in problem.unavailability]
    )
    return latest + longest + moves


def _operations(
    model: cp_model.CpModel, problem: Problem, horizon: int
) -> dict[tuple[int, int], _OpVars]:
    frozen = {(f.job, f.op): f for f in problem.frozen}
    ops = {}
    for j, job in enumerate(problem.jobs):
        for k, op in enumerate(job.operations):
            start = model.NewIntVar(job.release, horizon, f"s{j}_{k}")
            end = model.NewIntVar(0, horizon, f"e{j}_{k}")
            fixed = frozen.get((j, k))
            if fixed is not None:
                model.Add(start == fixed.start)
            choices = {}
            for machine in op.durations:
                if fixed is not None and machine != fixed.machine:
                    continue
                choices[machine] = model.NewBoolVar(f"x{j}_{k}_{machine}")
            model.AddExactlyOne(choices.values())
            ops[(j, k)] = _OpVars(start, end, choices)
    return ops


def _machines(
    model: cp_model.CpModel, problem: Problem, ops: dict[tuple[int, int], _OpVars]
) -> None:
    intervals: dict[int, list[cp_model.IntervalVar]] = {m: [] for m in range(len(problem.machines))}
    for (j, k), v in ops.items():
        durations = problem.jobs[j].operations[k].durations
        for machine, chosen in v.choices.items():
            interval = model.NewOptionalIntervalVar(
                v.start, durations[machine], v.end, chosen, f"i{j}_{k}_{machine}"
            )
            intervals[machine].append(interval)
    for w in problem.unavailability:
        intervals[w.machine].append(model.NewIntervalVar(w.start, w.end - w.start, w.end, ""))
    for machine_intervals in intervals.values():
        model.AddNoOverlap(machine_intervals)


def _precedence(
    model: cp_model.CpModel, problem: Problem, ops: dict[tuple[int, int], _OpVars]
) -> None:
    for j, job in enumerate(problem.jobs):
        for k in range(len(job.operations)):
            after = ops[(j, k)]
            for p in problem.predecessors(j, k):
                before = ops[(j, p)]
                model.Add(after.start >= before.end)
                pairs = itertools.product(before.choices.items(), after.choices.items())
                for (m1, x1), (m2, x2) in pairs:
                    travel = problem.transport_time(m1, m2)
                    if travel:
                        model.Add(after.start >= before.end + travel).OnlyEnforceIf([x1, x2])


def _objective(
    model: cp_model.CpModel,
    problem: Problem,
    ops: dict[tuple[int, int], _OpVars],
    objective: Objective,
    horizon: int,
) -> None:
    makespan = model.NewIntVar(0, horizon, "makespan")
    model.AddMaxEquality(makespan, [v.end for v in ops.values()])
    terms = [round(objective.makespan * WEIGHT_SCALE) * makespan]
    if objective.weighted_tardiness:
        for j, job in enumerate(problem.jobs):
            if job.due is None or not job.weight:
                continue
            tardiness = model.NewIntVar(0, horizon, f"t{j}")
            for k in range(len(job.operations)):
                model.Add(tardiness >= ops[(j, k)].end - job.due)
            weight = round(objective.weighted_tardiness * job.weight * WEIGHT_SCALE)
            terms.append(weight * tardiness)
    model.Minimize(cp_model.LinearExpr.Sum(terms))


def _read(
    solver: cp_model.CpSolver, problem: Problem, ops: dict[tuple[int, int], _OpVars]
) -> list[ScheduledOperation]:
    placed = []
    for (j, k), v in ops.items():
        machine = next(m for m, x in v.choices.items() if solver.Value(x))
        start = solver.Value(v.start)
        duration = problem.jobs[j].operations[k].durations[machine]
        placed.append(ScheduledOperation(j, k, machine, start, start + duration))
    return placed
