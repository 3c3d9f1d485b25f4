"""The scheduling problem and its answer, as typed, validated, immutable values.

A problem is a flexible job shop spread over plants. Jobs (order lines) are made of operations;
an operation may run on any of its eligible machines, each with its own processing time.
Operations of a job are ordered by their predecessors: a chain by default, an assembly tree when
an operation lists several. Machines belong to plants; moving a job between plants costs the
transport time. A machine may have a calendar (its open periods): a resumable operation pauses
over closed time and its span stretches, a non-resumable one must fit in one open period.
Machines have unavailability windows, jobs have release and due dates and weights, and
operations already running or dispatched are frozen on a machine at a start time.

Times are integers in one unit chosen by the caller (minutes, seconds…). Every inconsistency raises
:class:`ProblemError` naming the job, operation or machine at fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cloud.scheduling.exceptions import ProblemError

# Times at or past this are "never": beyond every calendar (the core's sentinel, 2**50).
NEVER = 1 << 50


@dataclass(frozen=True)
class Machine:
    """A machine of a plant. ``calendar`` lists its open periods ``(start, end)``, sorted and
    apart (closed time between two; touching periods are one); it is closed outside them.
    ``None`` means always open (no calendar, or a lights-out machine that opts out of its
    plant's)."""

    name: str
    plant: int = 0
    calendar: tuple[tuple[int, int], ...] | None = None
    # Sequence-dependent setups: setups[a][b] is the machine work to change over from an
    # operation of family a to one of family b (0 on the diagonal, usually). None: no setups.
    setups: tuple[tuple[int, ...], ...] | None = None
    # The family it is set up for at time 0 (of the last operation it ran; None: unknown, so
    # no setup before its first operation).
    setup_family: int | None = None

    def setup(self, before: int | None, after: int | None) -> int:
        """The setup between an operation of family ``before`` and one of ``after`` (0 when
        either has no family, nothing ran before, or the machine has no setups)."""
        if self.setups is None or before is None or after is None:
            return 0
        return self.setups[before][after]


@dataclass(frozen=True)
class Operation:
    """One step of a job: processing time per eligible machine (machine index → duration).

    ``predecessors`` are indices of operations of the same job that must end first; ``None`` means
    the previous operation of the job (a chain), ``()`` means none. On a machine with a calendar,
    a ``resumable`` operation pauses over closed time (its span stretches); a non-resumable one
    (a cure cycle, a heat treatment) must run within one open period. ``family`` (material,
    colour, fixture…) indexes the machines' setup matrices; None: no setup before it. ``skill``
    asks for an operator who has it, over the operation's whole busy span or its setup only
    (when the problem has operators at all). ``release``: the operation may not start (nor its
    setup) before this time, on top of its job's release (a purchased material it needs arrives
    then).
    """

    durations: Mapping[int, int]
    predecessors: tuple[int, ...] | None = None
    resumable: bool = True
    family: int | None = None
    # An operator with this skill attends the operation: for its setup and work (``"all"``) or
    # for its setup only (``"setup"``: none is needed when there is no setup).
    skill: int | None = None
    attended: str = "all"
    release: int = 0


@dataclass(frozen=True)
class Operator:
    """A person who runs or sets up machines of a plant: ``skills`` (indices below 64) and the
    periods they are on shift (``roster``; None: always). An operator attends one operation at
    a time, all of its attended span within one period of the roster, on machines of their
    ``plant`` only (None: any)."""

    name: str
    skills: frozenset[int]
    roster: tuple[tuple[int, int], ...] | None = None
    plant: int | None = None


MAX_SKILLS = 64


@dataclass(frozen=True)
class Job:
    operations: tuple[Operation, ...]
    release: int = 0
    due: int | None = None
    weight: float = 1.0
    name: str = ""


@dataclass(frozen=True)
class Unavailability:
    """A window ``[start, end)`` when a machine cannot work (maintenance, closed hours…)."""

    machine: int
    start: int
    end: int


@dataclass(frozen=True)
class FrozenOperation:
    """An operation already running or dispatched: its machine and start cannot change. It is a
    fact, not a plan: it occupies ``[start, start + duration)`` whatever the machine's calendar,
    and from ``setup_start`` on when its change-over, ``[setup_start, setup_end)``, is still to
    run or running (None: no setup ahead of its work; ``setup_end`` None: it ends at ``start``).
    """

    job: int
    op: int
    machine: int
    start: int
    # The operator attending it (an index into ``Problem.operators``; None: nobody planned):
    # reserved for its attended span (its setup and work, or its setup only), so the plan
    # gives them nothing else meanwhile.
    operator: int | None = None
    setup_start: int | None = None
    setup_end: int | None = None

    @property
    def busy_from(self) -> int:
        """When the machine starts working for it (its setup, else its work)."""
        return self.start if self.setup_start is None else self.setup_start

    @property
    def setup_done(self) -> int:
        """When its setup is done (its start when it has none)."""
        if self.setup_start is None or self.setup_end is None:
            return self.start
        return self.setup_end


@dataclass(frozen=True)
class Problem:
    jobs: tuple[Job, ...]
    machines: tuple[Machine, ...]
    # transport[p][q]: time to move a job from plant p to plant q; empty means no transport times.
    transport: tuple[tuple[int, ...], ...] = ()
    unavailability: tuple[Unavailability, ...] = ()
    frozen: tuple[FrozenOperation, ...] = ()
    operators: tuple[Operator, ...] = ()

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def operation_count(self) -> int:
        return sum(len(job.operations) for job in self.jobs)

    def predecessors(self, job: int, op: int) -> tuple[int, ...]:
        """Indices of the operations of ``job`` that must end before ``op`` starts."""
        preds = self.jobs[job].operations[op].predecessors
        if preds is None:
            return (op - 1,) if op > 0 else ()
        return preds

    def release(self, job: int, op: int) -> int:
        """When ``op`` of ``job`` may start at the earliest: its job's release or its own."""
        return max(self.jobs[job].release, self.jobs[job].operations[op].release)

    def transport_time(self, from_machine: int, to_machine: int) -> int:
        if not self.transport:
            return 0
        return self.transport[self.machines[from_machine].plant][self.machines[to_machine].plant]


@dataclass(frozen=True)
class Objective:
    """What the search minimises: a weighted sum of makespan, total weighted tardiness and, when
    re-planning from a previous schedule, the number of operations moved (changed machine, or start
    shifted by more than ``tolerance``)."""

    makespan: float = 1.0
    weighted_tardiness: float = 0.0
    stability: float = 0.0
    tolerance: int = 0

    def __post_init__(self) -> None:
        weights = (self.makespan, self.weighted_tardiness, self.stability)
        if min(weights) < 0 or max(weights) == 0:
            raise ProblemError(f"objective weights must be >= 0 and not all zero, got {weights}")
        if self.tolerance < 0:
            raise ProblemError(f"stability tolerance must be >= 0, got {self.tolerance}")


@dataclass(frozen=True)
class ScheduledOperation:
    """An operation's work runs in ``[start, end)``; its setup, if it has one, is machine work
    in ``[setup_start, setup_end)`` right before (``setup_end`` <= ``start``: a setup that ends
    at a shift's end lets the work start when the machine opens again)."""

    job: int
    op: int
    machine: int
    start: int
    end: int
    setup_start: int | None = None
    setup_end: int | None = None
    operator: int | None = None  # index of the operator who attends it, if it needs one

    @property
    def busy_from(self) -> int:
        """When the machine starts working for this operation (its setup, else its work)."""
        return self.start if self.setup_start is None else self.setup_start


@dataclass(frozen=True)
class SolveStats:
    iterations: int
    elapsed: float
    time_to_first: float
    first_objective: float
    # A makespan no schedule can beat: the bound over open time, or higher where the deadline
    # search proved every makespan below it out of reach (job shops: one machine per operation).
    lower_bound: int
    stop_reason: str
    # The deadline search (job shops with closed time, the makespan alone): targets tried,
    # plans it improved, nodes searched.
    deadline_targets: int = 0
    deadline_improved: int = 0
    deadline_nodes: int = 0
    # Independent searches that ran side by side (``solve(workers=...)``); the counts above are
    # their sums.
    workers: int = 1


@dataclass(frozen=True)
class Schedule:
    operations: tuple[ScheduledOperation, ...]
    makespan: int
    weighted_tardiness: float
    moved: int
    objective: float
    stats: SolveStats | None = field(default=None, compare=False)

    @property
    def setups(self) -> int:
        """How many operations have a setup before them."""
        return sum(1 for o in self.operations if o.setup_start is not None)

    def to_json(self) -> dict[str, Any]:
        operations: list[dict[str, int]] = []
        for o in self.operations:
            item = {"job": o.job, "op": o.op, "machine": o.machine, "start": o.start, "end": o.end}
            if o.setup_start is not None and o.setup_end is not None:
                item |= {"setup_start": o.setup_start, "setup_end": o.setup_end}
            if o.operator is not None:
                item["operator"] = o.operator
            operations.append(item)
        return {
            "makespan": self.makespan,
            "weighted_tardiness": self.weighted_tardiness,
            "setups": self.setups,
            "operations": operations,
        }


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _validate(problem: Problem) -> None:
    if not problem.machines:
        raise ProblemError("the problem has no machines")
    for m, machine in enumerate(problem.machines):
        _validate_calendar(m, machine.calendar)
        _validate_setups(m, machine.setups)
        family = machine.setup_family
        if family is not None and not (_is_int(family) and 0 <= family < len(machine.setups or ())):
            raise ProblemError(
                f"machine {m}: setup family {family!r} is not one of its setups' families"
            )
    _validate_transport(problem)
    for j, job in enumerate(problem.jobs):
        _validate_job(problem, j, job)
    for window in problem.unavailability:
        _validate_window(problem, window)
    _validate_frozen(problem)
    _validate_operators(problem)


def _validate_calendar(
    m: int, calendar: tuple[tuple[int, int], ...] | None, what: str = ""
) -> None:
    if calendar is None:
        return
    if what:
        # The same rules for an operator's roster, named as such.
        try:
            _validate_calendar(m, calendar)
        except ProblemError as exc:
            raise ProblemError(str(exc).replace(f"machine {m}: calendar", what)) from None
        return
    previous_end = 0
    for index, period in enumerate(calendar):
        if len(period) != 2 or not all(_is_int(t) for t in period):
            raise ProblemError(
                f"machine {m}: calendar period {index} must be (start, end) integers"
            )
        start, end = period
        if not 0 <= start < end < NEVER:
            raise ProblemError(
                f"machine {m}: calendar period {index} must have 0 <= start < end < 2**50, "
                f"got [{start}, {end})"
            )
        if index and start <= previous_end:
            raise ProblemError(
                f"machine {m}: calendar periods must be sorted with closed time between them, "
                f"period {index} starts at {start}, the previous one ends at {previous_end}"
            )
        previous_end = end


def _validate_setups(m: int, setups: tuple[tuple[int, ...], ...] | None) -> None:
    if setups is None:
        return
    size = len(setups)
    if size == 0 or any(len(row) != size for row in setups):
        raise ProblemError(f"machine {m}: setups must be a square family x family matrix")
    for a, row in enumerate(setups):
        if any(not _is_int(t) or t < 0 for t in row):
            raise ProblemError(f"machine {m}: setups from family {a} must be integers >= 0")


def _validate_operators(problem: Problem) -> None:
    skills: set[int] = set()
    for index, operator in enumerate(problem.operators):
        if any(not _is_int(k) or not 0 <= k < MAX_SKILLS for k in operator.skills):
            raise ProblemError(f"operator {index}: skills must be integers in [0, {MAX_SKILLS})")
        _validate_calendar(index, operator.roster, what=f"operator {index}: roster")
        plants = max(m.plant for m in problem.machines) + 1
        if operator.plant is not None and not (
            _is_int(operator.plant) and 0 <= operator.plant < plants
        ):
            raise ProblemError(f"operator {index}: unknown plant {operator.plant!r}")
        skills |= set(operator.skills)
    for j, job in enumerate(problem.jobs):
        for k, op in enumerate(job.operations):
            if op.attended not in ("all", "setup"):
                raise ProblemError(
                    f"job {j} operation {k}: attended must be 'all' or 'setup', got {op.attended!r}"
                )
            # Without operators, skills are not planned (a plant that does not model staff).
            if problem.operators and op.skill is not None and op.skill not in skills:
                raise ProblemError(
                    f"job {j} operation {k} needs skill {op.skill}, which no operator has"
                )


def _validate_transport(problem: Problem) -> None:
    plants = max(m.plant for m in problem.machines) + 1
    if min(m.plant for m in problem.machines) < 0:
        raise ProblemError("machine plants must be >= 0")
    if not problem.transport:
        return
    size = len(problem.transport)
    if size < plants or any(len(row) != size for row in problem.transport):
        raise ProblemError(f"transport must be a square matrix covering all {plants} plants")
    for p, row in enumerate(problem.transport):
        if any(not _is_int(t) or t < 0 for t in row):
            raise ProblemError(f"transport times from plant {p} must be integers >= 0")
        if row[p] != 0:
            raise ProblemError(f"transport time within plant {p} must be 0, got {row[p]}")


def _validate_job(problem: Problem, j: int, job: Job) -> None:
    if not job.operations:
        raise ProblemError(f"job {j} has no operations")
    if not _is_int(job.release) or job.release < 0:
        raise ProblemError(f"job {j}: release must be an integer >= 0, got {job.release!r}")
    if job.due is not None and (not _is_int(job.due) or job.due < 0):
        raise ProblemError(f"job {j}: due date must be an integer >= 0, got {job.due!r}")
    if job.weight < 0:
        raise ProblemError(f"job {j}: weight must be >= 0, got {job.weight}")
    for k, op in enumerate(job.operations):
        _validate_operation(problem, j, k, op)
    _check_acyclic(problem, j)


def _validate_operation(problem: Problem, j: int, k: int, op: Operation) -> None:
    if not isinstance(op.durations, Mapping):
        raise ProblemError(f"job {j} operation {k}: durations must map machine -> duration")
    if not op.durations:
        raise ProblemError(f"job {j} operation {k} has no eligible machine")
    for machine, duration in op.durations.items():
        if not _is_int(machine) or not 0 <= machine < len(problem.machines):
            raise ProblemError(f"job {j} operation {k}: unknown machine {machine!r}")
        if not _is_int(duration) or duration < 0:
            raise ProblemError(
                f"job {j} operation {k}: duration on machine {machine} must be an integer >= 0, "
                f"got {duration!r}"
            )
    if op.family is not None:
        if not _is_int(op.family) or op.family < 0:
            raise ProblemError(f"job {j} operation {k}: family must be an integer >= 0")
        for machine in op.durations:
            setups = problem.machines[machine].setups
            if setups is not None and op.family >= len(setups):
                raise ProblemError(
                    f"job {j} operation {k}: family {op.family} is not in the setups of "
                    f"machine {machine} ({len(setups)} families)"
                )
    if not _is_int(op.release) or not 0 <= op.release < NEVER:
        raise ProblemError(
            f"job {j} operation {k}: release must be an integer in [0, 2**50), got {op.release!r}"
        )
    for pred in problem.predecessors(j, k):
        if not _is_int(pred) or not 0 <= pred < len(problem.jobs[j].operations) or pred == k:
            raise ProblemError(f"job {j} operation {k}: invalid predecessor {pred!r}")


def _check_acyclic(problem: Problem, j: int) -> None:
    count = len(problem.jobs[j].operations)
    preds = [problem.predecessors(j, k) for k in range(count)]
    state = [0] * count  # 0 unvisited, 1 on the current path, 2 done
    for root in range(count):
        stack = [(root, iter(preds[root]))]
        if state[root]:
            continue
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state[nxt] == 1:
                raise ProblemError(f"job {j}: precedence cycle through operation {nxt}")
            elif state[nxt] == 0:
                state[nxt] = 1
                stack.append((nxt, iter(preds[nxt])))


def _validate_window(problem: Problem, window: Unavailability) -> None:
    if not 0 <= window.machine < len(problem.machines):
        raise ProblemError(f"unavailability on unknown machine {window.machine}")
    valid = _is_int(window.start) and _is_int(window.end)
    if not valid or not 0 <= window.start < window.end < NEVER:
        raise ProblemError(
            f"unavailability of machine {window.machine} must have 0 <= start < end < 2**50, "
            f"got [{window.start}, {window.end})"
        )


def _validate_frozen(problem: Problem) -> None:
    fixed: dict[tuple[int, int], FrozenOperation] = {}
    for f in problem.frozen:
        exists = 0 <= f.job < len(problem.jobs) and 0 <= f.op < len(problem.jobs[f.job].operations)
        if not exists:
            raise ProblemError(f"frozen operation ({f.job}, {f.op}) does not exist")
        if (f.job, f.op) in fixed:
            raise ProblemError(f"job {f.job} operation {f.op} is frozen twice")
        durations = problem.jobs[f.job].operations[f.op].durations
        if f.machine not in durations:
            raise ProblemError(
                f"job {f.job} operation {f.op} is frozen on machine {f.machine}, not eligible"
            )
        if not _is_int(f.start) or f.start < problem.release(f.job, f.op):
            raise ProblemError(
                f"job {f.job} operation {f.op}: frozen start {f.start!r} is before the release"
            )
        _validate_frozen_setup(problem, f)
        if f.operator is not None and not (
            _is_int(f.operator) and 0 <= f.operator < len(problem.operators)
        ):
            raise ProblemError(
                f"job {f.job} operation {f.op}: frozen operator {f.operator!r} does not exist"
            )
        fixed[(f.job, f.op)] = f
    for (j, k), f in fixed.items():
        for pred in problem.predecessors(j, k):
            _check_frozen_predecessor(problem, f, fixed.get((j, pred)), pred)
    _check_frozen_overlaps(problem, list(fixed.values()))


def _validate_frozen_setup(problem: Problem, f: FrozenOperation) -> None:
    if f.setup_start is None:
        if f.setup_end is not None:
            raise ProblemError(f"job {f.job} operation {f.op}: frozen setup end without a start")
        return
    setup = (f.setup_start, f.setup_done)
    release = problem.release(f.job, f.op)
    if not (all(_is_int(t) for t in setup) and release <= setup[0] < setup[1] <= f.start):
        raise ProblemError(
            f"job {f.job} operation {f.op}: frozen setup [{setup[0]!r}, {setup[1]!r}) must be "
            f"integers with release {release} <= start < end <= the work's start {f.start}"
        )


def _frozen_end(problem: Problem, f: FrozenOperation) -> int:
    return f.start + problem.jobs[f.job].operations[f.op].durations[f.machine]


def frozen_attendance(problem: Problem) -> dict[int, list[tuple[int, int]]]:
    """Per operator, the spans frozen operations reserve them for (sorted): a frozen
    operation's busy span (setup and work), or its setup only when only that is attended."""
    spans: dict[int, list[tuple[int, int]]] = {}
    for f in problem.frozen:
        if f.operator is None:
            continue
        setup_only = problem.jobs[f.job].operations[f.op].attended == "setup"
        end = f.setup_done if setup_only else _frozen_end(problem, f)
        if end > f.busy_from:
            spans.setdefault(f.operator, []).append((f.busy_from, end))
    for found in spans.values():
        found.sort()
    return spans


def _check_frozen_predecessor(
    problem: Problem, f: FrozenOperation, pred: FrozenOperation | None, pred_op: int
) -> None:
    if pred is None:
        raise ProblemError(
            f"job {f.job} operation {f.op} is frozen but its predecessor {pred_op} is not"
        )
    arrival = _frozen_end(problem, pred) + problem.transport_time(pred.machine, f.machine)
    if arrival > f.busy_from:
        raise ProblemError(
            f"job {f.job}: frozen operation {f.op} starts at {f.busy_from}, before its frozen "
            f"predecessor {pred_op} arrives at {arrival}"
        )


def _check_frozen_overlaps(problem: Problem, frozen: list[FrozenOperation]) -> None:
    busy: dict[int, list[tuple[int, int, str]]] = {}
    for f in frozen:
        label = f"frozen job {f.job} operation {f.op}"
        busy.setdefault(f.machine, []).append((f.busy_from, _frozen_end(problem, f), label))
    for w in problem.unavailability:
        label = f"unavailability [{w.start}, {w.end})"
        busy.setdefault(w.machine, []).append((w.start, w.end, label))
    for machine, intervals in busy.items():
        intervals.sort()
        # A frozen operation may overlap nothing; windows may overlap each other (they merge).
        any_end, any_label, frozen_end, frozen_label = -1, "", -1, ""
        for start, end, label in intervals:
            is_frozen = label.startswith("frozen")
            if is_frozen and start < any_end:
                raise ProblemError(f"on machine {machine}, {any_label} overlaps {label}")
            if not is_frozen and start < frozen_end:
                raise ProblemError(f"on machine {machine}, {frozen_label} overlaps {label}")
            if end > any_end:
                any_end, any_label = end, label
            if is_frozen and end > frozen_end:
                frozen_end, frozen_label = end, label
