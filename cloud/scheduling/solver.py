"""Solve a :class:`Problem` with the compiled core: flatten to typed arrays, search, read back."""

from __future__ import annotations

import logging
import math
from array import array
from dataclasses import dataclass

from cloud.scheduling.exceptions import CoreNotBuiltError, ProblemError
from cloud.scheduling.models import (
    NEVER,
    Objective,
    Problem,
    Schedule,
    ScheduledOperation,
    SolveStats,
    frozen_attendance,
)

try:
    import cloud.scheduling._core as _core
except ImportError as exc:  # pragma: no cover - only without a build
    raise CoreNotBuiltError(
        "the compiled scheduling core cloud.scheduling._core is not built: install the project "
        "with `make venv` or `pip install -e .` (needs Cython and a C compiler)"
    ) from exc

_LOGGER = logging.getLogger(__name__)

DEFAULT_TIME_LIMIT = 1.0
# Worker w of a solve searches with seed + w * WORKER_SEED_STRIDE (mod 2**64).
WORKER_SEED_STRIDE: int = _core.WORKER_SEED_STRIDE
MAX_WORKERS = 64
# Iterations without improving the best solution before the search restarts from it, perturbed.
# An estimated iteration costs one decode; an exact one (tardiness, stability, calendars) decodes 40
# candidates, so it gives up sooner.
STALL_ESTIMATED = 10000
STALL_EXACT = 200


@dataclass(frozen=True)
class _Spans:
    """What the core decoded, per operation: setup start (the work's when none), setup end,
    work start, end."""

    starts: list[int]
    setup_ends: list[int]
    work_starts: list[int]
    ends: list[int]
    operators: list[int]


@dataclass(frozen=True)
class _Flat:
    """The problem as the core sees it: operations numbered job by job."""

    offsets: tuple[int, ...]
    core: _core.Core
    lower_bound: int


def solve(
    problem: Problem,
    *,
    objective: Objective | None = None,
    time_limit: float = DEFAULT_TIME_LIMIT,
    iteration_limit: int | None = None,
    seed: int = 0,
    warm_start: Schedule | None = None,
    lower_bound: int | None = None,
    deadline_search: bool = True,
    workers: int = 1,
) -> Schedule:
    """Best schedule found within ``time_limit`` seconds (or ``iteration_limit`` search steps).

    The same seed and iteration limit give the same schedule. ``warm_start`` is the previous plan:
    the search starts from it, repaired, and it is the reference for the stability objective. The
    search stops early when the makespan reaches ``lower_bound`` or the one computed here.
    ``deadline_search=False`` leaves job shops with closed time to the tabu search alone (the
    core before its deadline search, for comparisons; docs/scheduling.md).

    ``workers`` independent searches run side by side, each in a thread of its own: worker w
    searches as ``solve(seed=seed + w * WORKER_SEED_STRIDE)`` would (mod 2**64), and the best
    plan wins (ties to the lowest w), so more workers never give a worse plan at an iteration
    limit.
    """
    objective = objective or Objective()
    _check_arguments(problem, objective, time_limit, iteration_limit, seed, warm_start, workers)
    flat = _flatten(problem)
    bound = max(flat.lower_bound, lower_bound or 0)
    pure_makespan = objective.weighted_tardiness == 0 and objective.stability == 0
    if pure_makespan:
        # The search stops on it only for the makespan alone (the bound is on the makespan).
        bound = flat.core.makespan_bound(bound)
    # The estimates ignore the idle time that calendars, windows and frozen operations force (a
    # weekend is not in a head or a tail), so with any of them every candidate is decoded.
    estimated = pure_makespan and not _has_calendars(problem)
    ref_machine, ref_start = _reference(problem, flat, warm_start)
    parameters: _core.SolveParameters = {
        "time_limit": time_limit,
        "iteration_limit": -1 if iteration_limit is None else iteration_limit,
        "lower_bound": float(bound),
        "seed": seed,
        "weight_makespan": 1.0 if pure_makespan else objective.makespan,
        "weight_tardiness": objective.weighted_tardiness,
        "weight_stability": objective.stability,
        "tolerance": objective.tolerance,
        "stall": STALL_ESTIMATED if estimated else STALL_EXACT,
        "exact": 0 if estimated else 1,
        "deadline_search": 1 if deadline_search else 0,
        "workers": workers,
    }
    machines, starts, ends, setup_ends, work_starts, operators, stats = flat.core.solve(
        parameters, ref_machine, ref_start
    )
    schedule = _schedule(
        problem,
        flat,
        objective,
        machines,
        _Spans(starts, setup_ends, work_starts, ends, operators),
        warm_start,
        stats,
        bound,
    )
    _LOGGER.debug(
        "solved %d operations: makespan %d after %d iterations in %.3f s (%s)",
        len(starts),
        schedule.makespan,
        stats["iterations"],
        stats["elapsed"],
        stats["stop_reason"],
    )
    return schedule


def lower_bound(problem: Problem) -> int:
    """A makespan no schedule can beat: the longest job path and each machine's load, both
    through the machines' calendars (see ``_core.open_time_bound``), and the average load."""
    flat = _flatten(problem)
    return flat.core.makespan_bound(flat.lower_bound)


def _has_calendars(problem: Problem) -> bool:
    """Calendars, windows, frozen operations or operators: idle time the estimates miss."""
    timed = any(m.calendar is not None or m.setup_family is not None for m in problem.machines)
    return timed or bool(problem.unavailability or problem.frozen or problem.operators)


def _check_arguments(
    problem: Problem,
    objective: Objective,
    time_limit: float,
    iteration_limit: int | None,
    seed: int,
    warm_start: Schedule | None,
    workers: int,
) -> None:
    if not time_limit > 0:
        raise ProblemError(f"time limit must be > 0 seconds, got {time_limit}")
    if iteration_limit is not None and iteration_limit < 0:
        raise ProblemError(f"iteration limit must be >= 0, got {iteration_limit}")
    if not 0 <= seed < 2**64:
        raise ProblemError(f"seed must be in [0, 2**64), got {seed}")
    if not 1 <= workers <= MAX_WORKERS:
        raise ProblemError(f"workers must be in [1, {MAX_WORKERS}], got {workers}")
    if objective.stability > 0 and warm_start is None:
        raise ProblemError("the stability objective needs the previous schedule as warm_start")
    if problem.operation_count == 0:
        raise ProblemError("the problem has no operations")


def _flatten(problem: Problem) -> _Flat:
    offsets = [0]
    for job in problem.jobs:
        offsets.append(offsets[-1] + len(job.operations))
    n, m = offsets[-1], len(problem.machines)
    # Lists first, one conversion to typed arrays at the end: much faster than array.append.
    job_of: list[int] = []
    pred_ptr, preds = [0], list[int]()
    opt_ptr, opt_machine, opt_duration = [0], list[int](), list[int]()
    release: list[int] = []
    resumable: list[int] = []
    for j, job in enumerate(problem.jobs):
        job_of.extend([j] * len(job.operations))
        release.extend(max(job.release, op.release) for op in job.operations)
        for k, op in enumerate(job.operations):
            preds.extend(offsets[j] + p for p in problem.predecessors(j, k))
            pred_ptr.append(len(preds))
            machines = sorted(op.durations)
            opt_machine.extend(machines)
            opt_duration.extend(op.durations[machine] for machine in machines)
            opt_ptr.append(len(opt_machine))
            resumable.append(1 if op.resumable else 0)
    frozen_machine, frozen_start = array("i", [-1] * n), array("q", [-1] * n)
    for f in problem.frozen:
        frozen_machine[offsets[f.job] + f.op] = f.machine
        frozen_start[offsets[f.job] + f.op] = f.start
    blocked_ptr, blocked_start, blocked_end = _blocked(problem)
    calendar_ptr, calendar_start, calendar_end = _open_periods(problem)
    plants = len(problem.transport) or 1
    transport = array("q", [t for row in problem.transport for t in row] or [0])
    work_left = _work_left(problem, offsets)
    families, family, setup = _setups(problem)
    frozen_ptr, frozen_end, frozen_family = _frozen_by_machine(problem)
    skill = [-1 if op.skill is None else op.skill for job in problem.jobs for op in job.operations]
    setup_only = [
        1 if op.attended == "setup" else 0 for job in problem.jobs for op in job.operations
    ]
    rosters = _rosters(problem)
    roster_ptr, roster_start, roster_end = _csr([roster or [] for roster in rosters])
    core = _core.Core(
        n,
        m,
        len(problem.jobs),
        plants,
        array("i", job_of),
        array("i", pred_ptr),
        array("i", preds),
        array("i", opt_ptr),
        array("i", opt_machine),
        array("q", opt_duration),
        array("i", [machine.plant for machine in problem.machines]),
        transport,
        blocked_ptr,
        blocked_start,
        blocked_end,
        array("i", [0 if machine.calendar is None else 1 for machine in problem.machines]),
        calendar_ptr,
        calendar_start,
        calendar_end,
        array("i", resumable),
        array("q", release),
        frozen_machine,
        frozen_start,
        array("q", [-1 if job.due is None else job.due for job in problem.jobs]),
        array("d", [float(job.weight) for job in problem.jobs]),
        array("d", work_left),
        families,
        array("i", family),
        setup,
        frozen_ptr,
        frozen_end,
        frozen_family,
        len(problem.operators),
        array("i", skill),
        array("i", setup_only),
        array("Q", [sum(1 << k for k in operator.skills) for operator in problem.operators]),
        array("i", [-1 if o.plant is None else o.plant for o in problem.operators]),
        array("i", [0 if roster is None else 1 for roster in rosters]),
        roster_ptr,
        roster_start,
        roster_end,
    )
    return _Flat(tuple(offsets), core, _makespan_bound(problem, work_left, offsets))


def _setups(problem: Problem) -> tuple[int, list[int], array[int]]:
    """Family per operation (-1: none) and the machines' setup matrices, all padded to the
    largest (a machine without setups has zeros), row-major machine x family x family."""
    family = [
        -1 if op.family is None else op.family for job in problem.jobs for op in job.operations
    ]
    size = max((len(m.setups) for m in problem.machines if m.setups is not None), default=0)
    matrix = array("q", [0] * (len(problem.machines) * size * size))
    for m, machine in enumerate(problem.machines):
        for a, row in enumerate(machine.setups or ()):
            base = (m * size + a) * size
            matrix[base : base + len(row)] = array("q", row)
    if size == 0:
        family = [-1] * len(family)
    return size, family, matrix


def _rosters(problem: Problem) -> list[list[tuple[int, int]] | None]:
    """Per operator, the periods the core may give them work (None: always): their roster
    without the spans frozen operations reserve them for, so that a re-plan never has a running
    or dispatched operation's operator attend something else at the same time."""
    reserved = frozen_attendance(problem)
    rosters: list[list[tuple[int, int]] | None] = []
    for index, operator in enumerate(problem.operators):
        taken = reserved.get(index)
        if not taken:
            rosters.append(None if operator.roster is None else list(operator.roster))
            continue
        periods = [(-NEVER, NEVER)] if operator.roster is None else operator.roster
        free: list[tuple[int, int]] = []
        for a, b in periods:
            for s, e in taken:
                if e <= a or s >= b:
                    continue
                if s > a:
                    free.append((a, s))
                a = max(a, e)
                if a >= b:
                    break
            if a < b:
                free.append((a, b))
        rosters.append(free)
    return rosters


def _frozen_by_machine(problem: Problem) -> tuple[array[int], array[int], array[int]]:
    """Per machine, its frozen operations' ends (sorted) and families: a setup after a frozen
    operation depends on its family. A machine's ``setup_family`` is one that ends at 0."""
    per_machine: list[list[tuple[int, int]]] = [
        [] if m.setup_family is None else [(0, m.setup_family)] for m in problem.machines
    ]
    for f in problem.frozen:
        op = problem.jobs[f.job].operations[f.op]
        family = -1 if op.family is None else op.family
        if op.durations[f.machine] > 0:  # a milestone leaves the setup as it was
            per_machine[f.machine].append((f.start + op.durations[f.machine], family))
    ptr, ends, families = array("i", [0]), array("q"), array("i")
    for items in per_machine:
        for end, family in sorted(items):
            ends.append(end)
            families.append(family)
        ptr.append(len(ends))
    return ptr, ends, families


def _blocked(problem: Problem) -> tuple[array[int], array[int], array[int]]:
    """Per machine, the sorted and merged intervals when it cannot take a new operation."""
    busy: list[list[tuple[int, int]]] = [[] for _ in problem.machines]
    if any(m.setup_family is not None for m in problem.machines):
        # The core reads frozen families (setup_family is one) only in its decoder for
        # calendars and blocked intervals; an interval at the end of time selects that decoder
        # and blocks nothing a schedule can reach.
        busy[0].append((NEVER - 2, NEVER - 1))
    for window in problem.unavailability:
        busy[window.machine].append((window.start, window.end))
    for f in problem.frozen:
        duration = problem.jobs[f.job].operations[f.op].durations[f.machine]
        busy[f.machine].append((f.busy_from, f.start + duration))
    return _csr(busy)


def _open_periods(problem: Problem) -> tuple[array[int], array[int], array[int]]:
    """Per machine with a calendar, its open periods (sorted and apart: the model checks)."""
    return _csr([list(machine.calendar or ()) for machine in problem.machines])


def _csr(per_machine: list[list[tuple[int, int]]]) -> tuple[array[int], array[int], array[int]]:
    """Sorted intervals, overlapping ones merged, as CSR arrays over the machines. Touching ones
    stay apart: a zero-length operation may sit where one ends and the next begins."""
    ptr, starts, ends = array("i", [0]), array("q"), array("q")
    for intervals in per_machine:
        merged: list[list[int]] = []
        for start, end in sorted(intervals):
            if merged and start < merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        for start, end in merged:
            starts.append(start)
            ends.append(end)
        ptr.append(len(starts))
    return ptr, starts, ends


def _work_left(problem: Problem, offsets: list[int]) -> list[float]:
    """For each operation, the shortest time its job still needs from its start (priority rule)."""
    left = [0.0] * offsets[-1]
    for j, job in enumerate(problem.jobs):
        if all(op.predecessors is None for op in job.operations):
            # A chain, the common case: a running sum from the last operation back.
            total = 0.0
            for k in range(len(job.operations) - 1, -1, -1):
                total += min(job.operations[k].durations.values())
                left[offsets[j] + k] = total
            continue
        successors: list[list[int]] = [[] for _ in job.operations]
        for k in range(len(job.operations)):
            for p in problem.predecessors(j, k):
                successors[p].append(k)
        for k in _reverse_topological(successors):
            tail = max((left[offsets[j] + s] for s in successors[k]), default=0.0)
            left[offsets[j] + k] = min(job.operations[k].durations.values()) + tail
    return left


def _reverse_topological(successors: list[list[int]]) -> list[int]:
    order: list[int] = []
    seen = [False] * len(successors)

    def visit(root: int) -> None:
        stack = [(root, iter(successors[root]))]
        seen[root] = True
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                order.append(node)
                stack.pop()
            elif not seen[nxt]:
                seen[nxt] = True
                stack.append((nxt, iter(successors[nxt])))

    for k in range(len(successors)):
        if not seen[k]:
            visit(k)
    return order


def _makespan_bound(problem: Problem, work_left: list[float], offsets: list[int]) -> int:
    """The longest job (each operation's release plus the shortest processing from it on) and,
    for every set of machines that is some operation's eligible set, the work that only those
    machines can do, spread over them."""
    path = 0.0
    work: dict[frozenset[int], int] = {}
    for j, job in enumerate(problem.jobs):
        # The work left is largest at the job's first operations, and so is the sum with the
        # job's release; an operation's own release may start a longer path later on.
        path = max(path, job.release + max(work_left[offsets[j] : offsets[j + 1]]))
        for k, op in enumerate(job.operations):
            if op.release > job.release:
                path = max(path, op.release + work_left[offsets[j] + k])
        for op in job.operations:
            eligible = frozenset(op.durations)
            work[eligible] = work.get(eligible, 0) + min(op.durations.values())
    machine_sets = [*work, frozenset(range(len(problem.machines)))]
    load = max(
        math.ceil(sum(w for s, w in work.items() if s <= group) / len(group))
        for group in machine_sets
    )
    return max(int(path), load)


def _reference(
    problem: Problem, flat: _Flat, warm_start: Schedule | None
) -> tuple[array[int] | None, array[int] | None]:
    if warm_start is None:
        return None, None
    n = flat.offsets[-1]
    machine, start = array("i", [-1] * n), array("q", [0] * n)
    for o in warm_start.operations:
        if o.job < len(problem.jobs) and o.op < len(problem.jobs[o.job].operations):
            machine[flat.offsets[o.job] + o.op] = o.machine
            start[flat.offsets[o.job] + o.op] = o.busy_from
    return machine, start


def _schedule(
    problem: Problem,
    flat: _Flat,
    objective: Objective,
    machines: list[int],
    spans: _Spans,
    warm_start: Schedule | None,
    stats: dict[str, object],
    bound: int,
) -> Schedule:
    operations = []
    # A frozen operation keeps the operator it was given and its setup (the core plans
    # neither: its setup is a blocked interval before it).
    frozen = {(f.job, f.op): f for f in problem.frozen}
    for j, job in enumerate(problem.jobs):
        for k in range(len(job.operations)):
            i = flat.offsets[j] + k
            if spans.ends[i] >= NEVER:
                raise ProblemError(
                    f"job {j} operation {k} cannot be placed within the open periods of its "
                    "eligible machines' calendars (or its operators' rosters)"
                )
            start, setup_end, work_start = (
                spans.starts[i],
                spans.setup_ends[i],
                spans.work_starts[i],
            )
            f = frozen.get((j, k))
            if f is not None:
                start, setup_end, work_start = f.busy_from, f.setup_done, f.start
            has_setup = setup_end > start
            operations.append(
                ScheduledOperation(
                    j,
                    k,
                    machines[i],
                    work_start,
                    spans.ends[i],
                    setup_start=start if has_setup else None,
                    setup_end=setup_end if has_setup else None,
                    operator=f.operator
                    if f is not None
                    else spans.operators[i]
                    if spans.operators[i] >= 0
                    else None,
                )
            )
    makespan = max(o.end for o in operations)
    ends = [
        max(o.end for o in operations[flat.offsets[j] : flat.offsets[j + 1]])
        for j in range(len(problem.jobs))
    ]
    tardiness = sum(
        job.weight * max(0, ends[j] - job.due)
        for j, job in enumerate(problem.jobs)
        if job.due is not None
    )
    moved = _moved(operations, warm_start, objective.tolerance)
    value = (
        objective.makespan * makespan
        + objective.weighted_tardiness * tardiness
        + objective.stability * moved
    )
    return Schedule(
        operations=tuple(operations),
        makespan=makespan,
        weighted_tardiness=tardiness,
        moved=moved,
        objective=value,
        stats=SolveStats(
            iterations=int(stats["iterations"]),  # type: ignore[call-overload]
            elapsed=float(stats["elapsed"]),  # type: ignore[arg-type]
            time_to_first=float(stats["time_to_first"]),  # type: ignore[arg-type]
            first_objective=float(stats["first_objective"]),  # type: ignore[arg-type]
            lower_bound=max(bound, int(stats["lower_bound"])),  # type: ignore[call-overload]
            stop_reason=str(stats["stop_reason"]),
            deadline_targets=int(stats["deadline_targets"]),  # type: ignore[call-overload]
            deadline_improved=int(stats["deadline_improved"]),  # type: ignore[call-overload]
            deadline_nodes=int(stats["deadline_nodes"]),  # type: ignore[call-overload]
            workers=int(stats["workers"]),  # type: ignore[call-overload]
        ),
    )


def _moved(operations: list[ScheduledOperation], previous: Schedule | None, tolerance: int) -> int:
    """Operations that changed machine or start (beyond ``tolerance``) since ``previous``."""
    if previous is None:
        return 0
    before = {(o.job, o.op): o for o in previous.operations}
    count = 0
    for o in operations:
        old = before.get((o.job, o.op))
        if old is not None and (old.machine != o.machine or abs(old.start - o.start) > tolerance):
            count += 1
    return count
