"""Independent check of a schedule against its problem, in plain Python.

It shares no code with the compiled core or with the solver's flattening: it reads the problem as
the caller wrote it and checks every constraint one by one, then recomputes the objective. Tests run
it on every schedule the core produces.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass

from cloud.scheduling.exceptions import InvalidScheduleError
from cloud.scheduling.models import Objective, Problem, Schedule, ScheduledOperation


@dataclass(frozen=True)
class ScheduleReport:
    makespan: int
    weighted_tardiness: float
    moved: int
    objective: float


def validate_schedule(
    problem: Problem,
    schedule: Schedule | Iterable[ScheduledOperation],
    *,
    objective: Objective | None = None,
    previous: Schedule | None = None,
) -> ScheduleReport:
    """Raise :class:`InvalidScheduleError` listing every violated constraint, else the recomputed
    objective. A :class:`Schedule`'s own makespan, tardiness and moved count are checked too."""
    objective = objective or Objective()
    operations = schedule.operations if isinstance(schedule, Schedule) else tuple(schedule)
    violations: list[str] = []
    placed = _index(problem, operations, violations)
    if len(placed) == problem.operation_count:
        _check_operations(problem, placed, violations)
        _check_machines(problem, operations, violations)
        _check_operators(problem, operations, violations)
    report = _report(problem, operations, objective, previous)
    if isinstance(schedule, Schedule):
        _check_reported(schedule, report, violations)
    if violations:
        raise InvalidScheduleError(violations)
    return report


def _index(
    problem: Problem, operations: Iterable[ScheduledOperation], violations: list[str]
) -> dict[tuple[int, int], ScheduledOperation]:
    placed: dict[tuple[int, int], ScheduledOperation] = {}
    for o in operations:
        if not (0 <= o.job < len(problem.jobs) and 0 <= o.op < len(problem.jobs[o.job].operations)):
            violations.append(f"unknown operation job {o.job} op {o.op}")
        elif (o.job, o.op) in placed:
            violations.append(f"job {o.job} op {o.op} is scheduled twice")
        else:
            placed[(o.job, o.op)] = o
    for j, job in enumerate(problem.jobs):
        for k in range(len(job.operations)):
            if (j, k) not in placed:
                violations.append(f"job {j} op {k} is not scheduled")
    return placed


def _check_operations(
    problem: Problem, placed: dict[tuple[int, int], ScheduledOperation], violations: list[str]
) -> None:
    frozen = {(f.job, f.op): f for f in problem.frozen}
    for (j, k), o in placed.items():
        job = problem.jobs[j]
        durations = job.operations[k].durations
        if o.machine not in durations:
            violations.append(f"job {j} op {k} runs on machine {o.machine}, not eligible")
            continue
        calendar = problem.machines[o.machine].calendar
        if calendar is None or (j, k) in frozen or durations[o.machine] == 0:
            if o.end - o.start != durations[o.machine]:
                violations.append(
                    f"job {j} op {k} lasts {o.end - o.start}, not {durations[o.machine]} "
                    f"on machine {o.machine}"
                )
        else:
            resumable = job.operations[k].resumable
            violations.extend(_calendar_violations(o, durations[o.machine], calendar, resumable))
        if o.busy_from < job.release:
            violations.append(
                f"job {j} op {k} starts at {o.busy_from}, before release {job.release}"
            )
        elif o.busy_from < job.operations[k].release:
            violations.append(
                f"job {j} op {k} starts at {o.busy_from}, before its own release "
                f"{job.operations[k].release}"
            )
        preds = job.operations[k].predecessors
        for p in (k - 1,) if preds is None and k > 0 else preds or ():
            before = placed[(j, p)]
            arrival = before.end + _transport(problem, before.machine, o.machine)
            if arrival > o.busy_from:
                violations.append(
                    f"job {j} op {k} starts at {o.busy_from}, before op {p} arrives at {arrival}"
                )
        f = frozen.get((j, k))
        if f is None:
            continue
        setup = None if f.setup_start is None else f.setup_done
        fact = (f.machine, f.start, f.setup_start, setup)
        if fact != (o.machine, o.start, o.setup_start, o.setup_end):
            violations.append(
                f"job {j} op {k} is frozen at machine {f.machine} start {f.start} setup "
                f"{fact[2:]}, scheduled at machine {o.machine} start {o.start} setup "
                f"{(o.setup_start, o.setup_end)}"
            )


def _calendar_violations(
    o: ScheduledOperation, work: int, calendar: tuple[tuple[int, int], ...], resumable: bool
) -> list[str]:
    """A resumable operation starts and ends in open time and works ``work`` of open time in its
    span; a non-resumable one lasts ``work`` within a single open period."""
    where = f"job {o.job} op {o.op} [{o.start}, {o.end}) on machine {o.machine}"
    if not resumable:
        if o.end - o.start != work:
            return [f"{where} lasts {o.end - o.start}, not {work}"]
        if not any(start <= o.start and o.end <= end for start, end in calendar):
            return [f"{where} is not resumable but is not within one open period"]
        return []
    found = []
    if not any(start <= o.start < end for start, end in calendar):
        found.append(f"{where} starts while the machine is closed")
    if not any(start < o.end <= end for start, end in calendar):
        found.append(f"{where} ends after closed time it did not need")
    open_time = sum(max(0, min(end, o.end) - max(start, o.start)) for start, end in calendar)
    if open_time != work:
        found.append(f"{where} works {open_time} in open time, not {work}")
    return found


def _transport(problem: Problem, from_machine: int, to_machine: int) -> int:
    if not problem.transport:
        return 0
    a = problem.machines[from_machine].plant
    b = problem.machines[to_machine].plant
    return problem.transport[a][b]


def _check_machines(
    problem: Problem, operations: Iterable[ScheduledOperation], violations: list[str]
) -> None:
    """No two operations (setups included) overlap on a machine or a window, and each one's
    setup is at least the one its machine predecessor's family asks for."""
    by_machine: dict[int, list[ScheduledOperation]] = {}
    for o in operations:
        by_machine.setdefault(o.machine, []).append(o)
    frozen = {(f.job, f.op) for f in problem.frozen}
    for machine, ops in by_machine.items():
        ops.sort(key=lambda o: (o.busy_from, o.end))
        for a, b in itertools.pairwise(ops):
            if b.busy_from < a.end:
                violations.append(
                    f"machine {machine}: job {a.job} op {a.op} [{a.busy_from}, {a.end}) overlaps "
                    f"job {b.job} op {b.op} [{b.busy_from}, {b.end})"
                )
        before: ScheduledOperation | None = None
        for o in ops:
            # Zero-length operations are milestones: no setup before or after them.
            if _work(problem, o) == 0:
                continue
            if (o.job, o.op) not in frozen:
                violations.extend(_setup_violations(problem, o, before))
            before = o
    for w in problem.unavailability:
        for o in by_machine.get(w.machine, []):
            if o.busy_from < w.end and w.start < o.end:
                violations.append(
                    f"machine {w.machine}: job {o.job} op {o.op} [{o.busy_from}, {o.end}) "
                    f"overlaps its unavailability [{w.start}, {w.end})"
                )


def _work(problem: Problem, o: ScheduledOperation) -> int:
    return problem.jobs[o.job].operations[o.op].durations.get(o.machine, 0)


def _family(problem: Problem, o: ScheduledOperation) -> int | None:
    return problem.jobs[o.job].operations[o.op].family


def _setup_violations(
    problem: Problem, o: ScheduledOperation, before: ScheduledOperation | None
) -> list[str]:
    """The open time in ``[setup_start, start)`` covers the setup from ``before``'s family (a
    non-resumable operation's setup and work share one open period)."""
    machine = problem.machines[o.machine]
    # Before its first operation, a machine is set up for its setup_family (None: unknown).
    previous = machine.setup_family if before is None else _family(problem, before)
    need = machine.setup(previous, _family(problem, o))
    where = f"job {o.job} op {o.op} on machine {o.machine}"
    if o.setup_start is None or o.setup_end is None:
        if need:
            after = "its setup family" if before is None else f"job {before.job} op {before.op}"
            return [f"{where} has no setup, needs {need} after {after}"]
        return []
    if not o.setup_start <= o.setup_end <= o.start:
        return [f"{where}: setup [{o.setup_start}, {o.setup_end}) does not come before {o.start}"]
    calendar = machine.calendar
    if calendar is None:
        done = o.start - o.setup_start
    else:
        done = sum(max(0, min(end, o.start) - max(start, o.setup_start)) for start, end in calendar)
        resumable = problem.jobs[o.job].operations[o.op].resumable
        inside = any(start <= o.setup_start and o.end <= end for start, end in calendar)
        if not resumable and not inside:
            return [f"{where}: setup and work of a non-resumable operation span closed time"]
    if done < need:
        return [f"{where}: setup has {done} of open time, needs {need}"]
    return []


def _attended(problem: Problem, o: ScheduledOperation) -> tuple[int, int] | None:
    """The span an operator must attend: the busy span, or the setup only (none without one)."""
    op = problem.jobs[o.job].operations[o.op]
    if op.skill is None:
        return None
    if op.attended == "setup":
        if o.setup_start is None or o.setup_end is None:
            return None
        return o.setup_start, o.setup_end
    return (o.busy_from, o.end) if o.end > o.busy_from else None


def _check_operators(
    problem: Problem, operations: Iterable[ScheduledOperation], violations: list[str]
) -> None:
    """Each attended span has an operator with the skill, on shift for all of it (within one
    period of the roster: nobody attends across the gap between two shifts), attending nothing
    else meanwhile. Frozen operations are facts: their operators are not planned, but one named
    for a frozen operation is busy for its attended span (setup and work, or its setup only)
    and attends nothing else then."""
    if not problem.operators:
        return
    frozen = {(f.job, f.op): f for f in problem.frozen}
    busy: dict[int, list[tuple[int, int, ScheduledOperation]]] = {}
    for o in operations:
        f = frozen.get((o.job, o.op))
        if f is not None and f.operator is not None:
            op = problem.jobs[o.job].operations[o.op]
            setup_end = o.start if o.setup_end is None else o.setup_end
            end = setup_end if op.attended == "setup" else o.end
            if end > o.busy_from:
                busy.setdefault(f.operator, []).append((o.busy_from, end, o))
        span = None if (o.job, o.op) in frozen else _attended(problem, o)
        if span is None:
            continue
        where = f"job {o.job} op {o.op} [{span[0]}, {span[1]})"
        skill = problem.jobs[o.job].operations[o.op].skill
        if o.operator is None or not 0 <= o.operator < len(problem.operators):
            violations.append(f"{where} needs an operator with skill {skill}, has none")
            continue
        operator = problem.operators[o.operator]
        if skill not in operator.skills:
            violations.append(f"{where}: operator {o.operator} lacks skill {skill}")
        plant = problem.machines[o.machine].plant
        if operator.plant is not None and operator.plant != plant:
            violations.append(f"{where}: operator {o.operator} works in another plant")
        roster = operator.roster
        if roster is not None and not any(a <= span[0] and span[1] <= b for a, b in roster):
            violations.append(f"{where}: operator {o.operator} is not on shift for all of it")
        busy.setdefault(o.operator, []).append((span[0], span[1], o))
    for operator_index, spans in busy.items():
        spans.sort(key=lambda item: (item[0], item[1]))
        for (_s1, e1, a), (s2, _e2, b) in itertools.pairwise(spans):
            if s2 < e1:
                violations.append(
                    f"operator {operator_index} attends job {a.job} op {a.op} and job {b.job} "
                    f"op {b.op} at once"
                )


def _report(
    problem: Problem,
    operations: Iterable[ScheduledOperation],
    objective: Objective,
    previous: Schedule | None,
) -> ScheduleReport:
    makespan = 0
    completion: dict[int, int] = {}
    for o in operations:
        makespan = max(makespan, o.end)
        completion[o.job] = max(completion.get(o.job, 0), o.end)
    tardiness = 0.0
    for j, job in enumerate(problem.jobs):
        if job.due is not None and completion.get(j, 0) > job.due:
            tardiness += job.weight * (completion[j] - job.due)
    moved = 0
    if previous is not None:
        old = {(o.job, o.op): (o.machine, o.start) for o in previous.operations}
        for o in operations:
            machine, start = old.get((o.job, o.op), (o.machine, o.start))
            if machine != o.machine or abs(start - o.start) > objective.tolerance:
                moved += 1
    value = (
        objective.makespan * makespan
        + objective.weighted_tardiness * tardiness
        + objective.stability * moved
    )
    return ScheduleReport(makespan, tardiness, moved, value)


def _check_reported(schedule: Schedule, report: ScheduleReport, violations: list[str]) -> None:
    if schedule.makespan != report.makespan:
        violations.append(f"reported makespan {schedule.makespan}, actual {report.makespan}")
    if abs(schedule.weighted_tardiness - report.weighted_tardiness) > 1e-6:
        violations.append(
            f"reported weighted tardiness {schedule.weighted_tardiness}, "
            f"actual {report.weighted_tardiness}"
        )
