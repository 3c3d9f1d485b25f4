"""The baseline the scheduling core is measured against: the same problem as an OR-Tools CP-SAT
model (optional interval per eligible machine, no-overlap per machine with the unavailability
windows as fixed intervals, precedence with transport times between plants, releases, frozen
operations, makespan and weighted tardiness objective).

Calendars are forbidden intervals (a machine's closed time as fixed intervals in its no-overlap):
exact for non-resumable operations, which must fit in one open period; a resumable operation's
stretching span has no such model, so :func:`solve_cpsat` refuses problems with resumable
operations on calendar machines. Sequence-dependent setups: per machine with a setup matrix, a
circuit over its optional intervals (``AddCircuit``, a dummy node for the first and last, a
self-loop for an absent one); the arc taken sets the setup, and an interval is the setup and the
work as one block, as in the core (a setup starts once the part is there). ``hint`` (the core's
constructive schedule) warm-starts the search: machine choices, starts and arcs. Operators:
an optional interval per attended operation and operator who could attend it (the busy span, or
the setup), exactly one present, a no-overlap per operator with their off-roster time as fixed
intervals, and none on a machine of another plant.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

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
    # Per machine with setups: the setup the chosen predecessor arc sets before the work.
    setups: dict[int, cp_model.IntVar] = field(default_factory=dict)


def solve_cpsat(
    problem: Problem,
    *,
    time_limit: float,
    workers: int = 2,
    objective: Objective | None = None,
    seed: int = 0,
    hint: Sequence[ScheduledOperation] | None = None,
) -> BaselineResult:
    began = time.perf_counter()
    objective = objective or Objective()
    _check_supported(problem)
    model = cp_model.CpModel()
    horizon = _horizon(problem)
    ops = _operations(model, problem, horizon)
    arcs = _machines(model, problem, ops, horizon)
    staff = _operators(model, problem, ops, horizon)
    _precedence(model, problem, ops)
    _objective(model, problem, ops, objective, horizon)
    if hint is not None:
        _hint(model, problem, ops, arcs, hint, staff)
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.max_time_in_seconds = time_limit
    solver.parameters.random_seed = seed
    status = solver.Solve(model)
    name = solver.StatusName(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return BaselineResult(None, None, name, time.perf_counter() - began)
    placed = tuple(_read(solver, problem, ops, staff))
    return BaselineResult(placed, max(o.end for o in placed), name, time.perf_counter() - began)


def _check_supported(problem: Problem) -> None:
    for j, job in enumerate(problem.jobs):
        for k, op in enumerate(job.operations):
            timed = any(problem.machines[m].calendar is not None for m in op.durations)
            if timed and op.resumable:
                raise ValueError(
                    f"job {j} operation {k} is resumable on a calendar machine: the CP-SAT "
                    "baseline models calendars as forbidden intervals (non-resumable) only"
                )


def _horizon(problem: Problem) -> int:
    """A time by which a serial schedule (one operation after another) would have finished, or
    the end of the last calendar period."""
    longest = sum(max(op.durations.values()) for job in problem.jobs for op in job.operations)
    setups = problem.operation_count * max(
        (max(map(max, m.setups)) for m in problem.machines if m.setups), default=0
    )
    moves = problem.operation_count * max((max(r) for r in problem.transport), default=0)
    latest = max(
        [
            problem.release(j, k)
            for j, job in enumerate(problem.jobs)
            for k in range(len(job.operations))
        ]
        + [f.start for f in problem.frozen]
        + [w.end for w in problem.unavailability]
    )
    closes = [m.calendar[-1][1] for m in problem.machines if m.calendar]
    return min([latest + longest + setups + moves, *closes])


def _operations(
    model: cp_model.CpModel, problem: Problem, horizon: int
) -> dict[tuple[int, int], _OpVars]:
    frozen = {(f.job, f.op): f for f in problem.frozen}
    ops = {}
    for j, job in enumerate(problem.jobs):
        for k, op in enumerate(job.operations):
            start = model.NewIntVar(problem.release(j, k), horizon, f"s{j}_{k}")
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


Arcs = dict[tuple[int, tuple[int, int] | None, tuple[int, int] | None], cp_model.IntVar]


def _machines(
    model: cp_model.CpModel,
    problem: Problem,
    ops: dict[tuple[int, int], _OpVars],
    horizon: int,
) -> Arcs:
    """No-overlap per machine (windows and closed time as fixed intervals); the setup circuits.
    Returns the circuits' arc literals by (machine, from, to), None for the dummy node."""
    intervals: dict[int, list[cp_model.IntervalVar]] = {m: [] for m in range(len(problem.machines))}
    for (j, k), v in ops.items():
        durations = problem.jobs[j].operations[k].durations
        for machine, chosen in v.choices.items():
            size: cp_model.LinearExprT = durations[machine]
            if problem.machines[machine].setups is not None:
                top = max(map(max, problem.machines[machine].setups))
                v.setups[machine] = model.NewIntVar(0, top, f"su{j}_{k}_{machine}")
                model.Add(v.setups[machine] == 0).OnlyEnforceIf(chosen.Not())
                size = durations[machine] + v.setups[machine]
            interval = model.NewOptionalIntervalVar(
                v.start, size, v.end, chosen, f"i{j}_{k}_{machine}"
            )
            intervals[machine].append(interval)
    for w in problem.unavailability:
        intervals[w.machine].append(model.NewIntervalVar(w.start, w.end - w.start, w.end, ""))
    for m, machine in enumerate(problem.machines):
        for start, end in _closed(machine.calendar, horizon):
            intervals[m].append(model.NewIntervalVar(start, end - start, end, ""))
    for machine_intervals in intervals.values():
        model.AddNoOverlap(machine_intervals)
    arcs: Arcs = {}
    for m, machine in enumerate(problem.machines):
        if machine.setups is not None:
            _circuit(model, problem, ops, m, arcs)
    return arcs


Staff = dict[tuple[int, int], dict[int, cp_model.IntVar]]


def _operators(
    model: cp_model.CpModel,
    problem: Problem,
    ops: dict[tuple[int, int], _OpVars],
    horizon: int,
) -> Staff:
    """Per attended operation, a presence literal per operator who could attend it."""
    staff: Staff = {}
    if not problem.operators:
        return staff
    frozen = {(f.job, f.op) for f in problem.frozen}
    busy: dict[int, list[cp_model.IntervalVar]] = {o: [] for o in range(len(problem.operators))}
    for (j, k), v in ops.items():
        op = problem.jobs[j].operations[k]
        if op.skill is None or (j, k) in frozen:
            continue
        literals: dict[int, cp_model.IntVar] = {}
        for o, operator in enumerate(problem.operators):
            if op.skill not in operator.skills:
                continue
            present = model.NewBoolVar(f"w{j}_{k}_{o}")
            for machine, chosen in v.choices.items():
                if operator.plant is not None and problem.machines[machine].plant != operator.plant:
                    model.AddImplication(present, chosen.Not())
            if op.attended == "setup":
                size = _setup_size(model, v)
                if size is None:
                    model.Add(present == 0)
                    continue
                end = model.NewIntVar(0, horizon, "")
                interval = model.NewOptionalIntervalVar(v.start, size, end, present, "")
            else:
                interval = model.NewOptionalIntervalVar(
                    v.start, model.NewIntVar(0, horizon, ""), v.end, present, ""
                )
            busy[o].append(interval)
            literals[o] = present
        if op.attended == "setup" and not v.setups:
            continue
        model.AddExactlyOne(literals.values())
        staff[(j, k)] = literals
    for o, operator in enumerate(problem.operators):
        for start, end in _closed(operator.roster, horizon):
            busy[o].append(model.NewIntervalVar(start, end - start, end, ""))
        model.AddNoOverlap(busy[o])
    return staff


def _setup_size(model: cp_model.CpModel, v: _OpVars) -> cp_model.LinearExprT | None:
    """The setup the chosen machine's arc sets (None: no machine of the operation has setups:
    nothing to attend)."""
    if not v.setups:
        return None
    return sum(v.setups.values())


def _closed(calendar: tuple[tuple[int, int], ...] | None, horizon: int) -> list[tuple[int, int]]:
    if calendar is None:
        return []
    closed, previous = [], 0
    for start, end in calendar:
        if start > previous:
            closed.append((previous, start))
        previous = end
    if previous < horizon + 1:
        closed.append((previous, horizon + 1))
    return closed


def _circuit(
    model: cp_model.CpModel,
    problem: Problem,
    ops: dict[tuple[int, int], _OpVars],
    m: int,
    arcs: Arcs,
) -> None:
    """The order of machine m's operations as a circuit through node 0; arc a -> b sets b's
    setup from a's family and starts b's block after a's end."""
    setups = problem.machines[m].setups
    assert setups is not None
    nodes = [key for key, v in ops.items() if m in v.choices]
    index = {key: i + 1 for i, key in enumerate(nodes)}
    # The dummy node loops on itself when the machine gets no operation.
    circuit: list[tuple[int, int, cp_model.IntVar]] = [(0, 0, model.NewBoolVar(""))]
    for key in nodes:
        v = ops[key]
        first = model.NewBoolVar("")
        circuit.append((0, index[key], first))
        model.Add(v.setups[m] == 0).OnlyEnforceIf(first)
        arcs[(m, None, key)] = first
        last = model.NewBoolVar("")
        circuit.append((index[key], 0, last))
        arcs[(m, key, None)] = last
        circuit.append((index[key], index[key], v.choices[m].Not()))
    for a, b in itertools.permutations(nodes, 2):
        literal = model.NewBoolVar("")
        circuit.append((index[a], index[b], literal))
        arcs[(m, a, b)] = literal
        fa = problem.jobs[a[0]].operations[a[1]].family
        fb = problem.jobs[b[0]].operations[b[1]].family
        setup = problem.machines[m].setup(fa, fb)
        model.Add(ops[b].setups[m] == setup).OnlyEnforceIf(literal)
        model.Add(ops[b].start >= ops[a].end).OnlyEnforceIf(literal)
    model.AddCircuit(circuit)


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
    solver: cp_model.CpSolver,
    problem: Problem,
    ops: dict[tuple[int, int], _OpVars],
    staff: Staff,
) -> list[ScheduledOperation]:
    placed = []
    for (j, k), v in ops.items():
        machine = next(m for m, x in v.choices.items() if solver.Value(x))
        start = solver.Value(v.start)
        duration = problem.jobs[j].operations[k].durations[machine]
        setup = solver.Value(v.setups[machine]) if machine in v.setups else 0
        attended = [o for o, x in staff.get((j, k), {}).items() if solver.Value(x)]
        operator = attended[0] if attended else None
        if problem.jobs[j].operations[k].attended == "setup" and not setup:
            operator = None
        if setup:
            work = start + setup
            placed.append(
                ScheduledOperation(
                    j, k, machine, work, work + duration, start, work, operator=operator
                )
            )
        else:
            placed.append(
                ScheduledOperation(j, k, machine, start, start + duration, operator=operator)
            )
    return placed


def _hint(
    model: cp_model.CpModel,
    problem: Problem,
    ops: dict[tuple[int, int], _OpVars],
    arcs: Arcs,
    schedule: Sequence[ScheduledOperation],
    staff: Staff,
) -> None:
    """A complete hint from a schedule: machine choices, block starts and ends, setups, arcs."""
    by_machine: dict[int, list[ScheduledOperation]] = {}
    for o in schedule:
        v = ops[(o.job, o.op)]
        for machine, chosen in v.choices.items():
            model.AddHint(chosen, machine == o.machine)
        model.AddHint(v.start, o.busy_from)
        model.AddHint(v.end, o.end)
        for machine, setup in v.setups.items():
            model.AddHint(setup, o.start - o.busy_from if machine == o.machine else 0)
        for operator, present in staff.get((o.job, o.op), {}).items():
            model.AddHint(present, operator == o.operator)
        by_machine.setdefault(o.machine, []).append(o)
    taken: set[tuple[int, tuple[int, int] | None, tuple[int, int] | None]] = set()
    for machine, placed in by_machine.items():
        placed.sort(key=lambda o: o.busy_from)
        keys: list[tuple[int, int] | None] = [None, *((o.job, o.op) for o in placed), None]
        taken.update((machine, a, b) for a, b in itertools.pairwise(keys))
    for arc, literal in arcs.items():
        model.AddHint(literal, arc in taken)
