"""Orders' open operations as a scheduling problem, solved by the core, read back as a plan.

Pure functions on plain values (no database): the flows gather the values, this module decides.
Plan times are wall-clock; operation durations are in plant time (what a machine runs), divided
by the time scale (1 for real plants, e.g. 600 for the simulated demo network). Machines that
follow their plant's calendar come with its open periods, already in wall-clock time. The core
works in integer ticks of :data:`TICKS_PER_SECOND` counted from ``now``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from cloud import scheduling
from cloud.exceptions import CloudError

TICKS_PER_SECOND = 10
CLOCK_ORIGIN = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday


@dataclass(frozen=True)
class PlantClock:
    """Plant time against wall time: the same for real plants; the simulated demo's plants run
    ``time_scale`` times as fast from ``origin``, where both clocks read the same."""

    time_scale: float = 1.0
    origin: datetime = CLOCK_ORIGIN

    def plant(self, wall: datetime) -> datetime:
        return self.origin + (wall - self.origin) * self.time_scale

    def wall(self, plant: datetime) -> datetime:
        return self.origin + (plant - self.origin) / self.time_scale


class PlanningError(CloudError):
    """The work cannot be planned on this network (the message says which step and why)."""

    status_code = 422
    code = "cannot_plan"


@dataclass(frozen=True)
class PlanMachine:
    unit_id: str
    machine: str
    capabilities: Sequence[Mapping[str, object]]
    certifications: frozenset[str] = frozenset()
    down_until: datetime | None = None
    # Open periods (wall clock) of the plant's calendar; None: always open (no calendar, or a
    # lights-out machine).
    calendar: Sequence[tuple[datetime, datetime]] | None = None
    speed_factor: float = 1.0  # its run time against the nominal duration (1.3: 30 % longer)
    # The setup family of the last operation it started (a machine changes over from it).
    setup_family: str | None = None

    @property
    def key(self) -> str:
        return f"{self.unit_id}/{self.machine}"


@dataclass(frozen=True)
class PlanOperation:
    key: int
    step: str
    process: str
    duration_s: float
    predecessors: Sequence[str] = ()
    requirements: Mapping[str, float] = field(default_factory=dict)
    certifications: Sequence[str] = ()
    excluded: Sequence[str] = ()
    frozen_on: str | None = None
    remaining_s: float = 0.0  # wall seconds of work left when frozen
    setup_left_s: float = 0.0  # wall seconds of its change-over still ahead when frozen
    frozen_rank: int = 0  # order of frozen operations on their machine (running first)
    resumable: bool = True  # may pause over a plant's closed time (not a cure cycle)
    # A machine's own time (plant seconds by machine key), instead of nominal x speed factor.
    machine_durations_s: Mapping[str, float] = field(default_factory=dict)
    # Setup family (material, colour, fixture) and the change-over before this step by the
    # family the machine ran before, in plant seconds ("*": any other family).
    setup_family: str | None = None
    setup_s: Mapping[str, float] = field(default_factory=dict)
    # An operator with this skill attends the step: all of it, or its setup only.
    skill: str | None = None
    attended: str = "all"
    # The plant operator attending it when frozen (the plan named them): reserved meanwhile.
    frozen_operator: str | None = None
    # Not before this (wall clock): a purchased material it needs is expected then.
    release: datetime | None = None
    # Only on these members' machines (the consortium member chosen for the step); empty: any.
    units: Sequence[str] = ()


@dataclass(frozen=True)
class PlanJob:
    order_id: str
    operations: Sequence[PlanOperation]
    due: datetime | None = None


@dataclass(frozen=True)
class Assignment:
    """Machine and work span of an operation; ``setup_start`` when a change-over comes first
    (it ends when the work can start, in the plant's open time)."""

    unit_id: str
    machine: str
    start: datetime
    end: datetime
    setup_start: datetime | None = None
    operator: str | None = None  # the plant operator who attends it


@dataclass(frozen=True)
class PlanOperator:
    """A plant's operator: skills, and the periods (wall clock) they are on shift; None:
    whenever the plant works."""

    unit_id: str
    operator_id: str
    skills: frozenset[str]
    roster: Sequence[tuple[datetime, datetime]] | None = None


@dataclass(frozen=True)
class Window:
    machine_key: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Plan:
    assignments: dict[int, Assignment]
    job_ends: dict[str, datetime]
    makespan_s: float
    unplanned: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Network:
    """What the plan runs on: machines, unit-to-unit transport (hours), the time scale."""

    machines: Sequence[PlanMachine]
    transport_hours: Mapping[tuple[str, str], float] = field(default_factory=dict)
    windows: Sequence[Window] = ()
    time_scale: float = 1.0
    overhead_s: float = 0.0  # real seconds per operation for dispatch and reports
    max_share: Mapping[str, float] = field(default_factory=dict)  # unit → share of an order
    operators: Sequence[PlanOperator] = ()


def machine_work(step: Mapping[str, Any]) -> dict[str, Any]:
    """The planning fields of a quoted work step (``quote.work["operations"][i]``): its own
    times on given machines and its setup; absent ones mean nominal times and no setup."""
    return {
        "machine_durations_s": dict(step.get("machine_durations_s") or {}),
        "setup_family": step.get("setup_family"),
        "setup_s": dict(step.get("setup_s") or {}),
        "skill": step.get("operator_skill"),
        "attended": step.get("attended", "all"),
        "units": tuple(step.get("units") or ()),
    }


def _numbers(value: object) -> list[float]:
    """The numbers in a capability parameter: 400, [650, 520, 475] or "650 x 520 x 475"."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [float(value)]
    if isinstance(value, list | tuple):
        return [n for item in value for n in _numbers(item)]
    if isinstance(value, str):
        try:
            return [float(part) for part in value.split("x")]
        except ValueError:
            return []
    return []


def offered(parameters: Mapping[str, object], name: str) -> float:
    """The most a capability offers of parameter ``name`` (-inf when it does not say)."""
    return max(_numbers(parameters.get(name)), default=-math.inf)


def shortfalls(
    parameters: Mapping[str, object], requirements: Mapping[str, float]
) -> list[tuple[str, float, float]]:
    """The requirements a capability's parameters do not meet: (name, offered, required),
    offered -inf when the capability does not give the parameter."""
    return [
        (name, value, required)
        for name, required in requirements.items()
        if (value := offered(parameters, name)) < required
    ]


def can_do(machine: PlanMachine, operation: PlanOperation) -> bool:
    """Process offered, every capability parameter at least the required value, certified."""
    if machine.key in operation.excluded:
        return False
    if operation.units and machine.unit_id not in operation.units:
        return False
    if not set(operation.certifications) <= machine.certifications:
        return False
    for capability in machine.capabilities:
        if capability.get("process") != operation.process:
            continue
        parameters = capability.get("parameters") or {}
        assert isinstance(parameters, Mapping)
        if all(
            offered(parameters, name) >= required
            for name, required in operation.requirements.items()
        ):
            return True
    return False


def explain_ineligible(operation: PlanOperation) -> str:
    needs = [operation.process]
    needs += [f"{name} ≥ {value:g}" for name, value in operation.requirements.items()]
    needs += [f"certified {c}" for c in operation.certifications]
    if operation.units:
        needs += [f"at {' or '.join(operation.units)}"]
    return f"no machine of the network offers {', '.join(needs)} (step {operation.step})"


def true_duration_s(op: PlanOperation, machine: PlanMachine) -> float:
    """Plant seconds ``op`` takes on ``machine``: the machine's own time from the family data
    if it has one, else the nominal duration times its speed factor."""
    own = op.machine_durations_s.get(machine.key) if op.machine_durations_s else None
    return own if own is not None else op.duration_s * machine.speed_factor


def _ticks(seconds: float) -> int:
    return max(1, math.ceil(seconds * TICKS_PER_SECOND))


class _Builder:
    """Index machines, plants and jobs for the core; keep the way back."""

    def __init__(self, network: Network, now: datetime) -> None:
        self.network = network
        self.now = now
        self.machines = list(network.machines)
        self.machine_index = {m.key: i for i, m in enumerate(self.machines)}
        # The machines able to do a step, by what decides it: a plan's steps share a few.
        self.able: dict[tuple[object, ...], list[int]] = {}
        units = sorted({m.unit_id for m in self.machines})
        self.plant = {unit: index for index, unit in enumerate(units)}
        self.units = units
        self.jobs: list[scheduling.Job] = []
        self.job_keys: list[tuple[str, list[int]]] = []
        self.to_freeze: list[tuple[int, int, int, int, int, str | None, int]] = []
        self.machine_cursor: dict[int, int] = {}
        self.unplanned: dict[str, str] = {}
        # Setup families by name, and every step's setup rule with its family and machines.
        self.families: dict[str, int] = {}
        self.skills: dict[str, int] = {}
        self.operator_ids: list[str] = []  # the problem's operators, in its order
        self.operator_units: list[str] = []  # and their plants
        self.setup_rules: list[tuple[int, Mapping[str, float], tuple[int, ...]]] = []

    def wall_ticks(self, plant_seconds: float) -> int:
        return _ticks(plant_seconds / self.network.time_scale)

    def at(self, when: datetime) -> int:
        return max(0, math.ceil((when - self.now).total_seconds() * TICKS_PER_SECOND))

    def add_job(self, job: PlanJob) -> None:
        index = {op.step: k for k, op in enumerate(job.operations)}
        operations = []
        for op in job.operations:
            durations = self._durations(op)
            if not durations:
                self.unplanned[job.order_id] = explain_ineligible(op)
                return
            predecessors = tuple(index[p] for p in op.predecessors if p in index)
            family = None
            if op.setup_family is not None:
                family = self.families.setdefault(op.setup_family, len(self.families))
                self.setup_rules.append((family, op.setup_s, tuple(durations)))
            operations.append(
                scheduling.Operation(
                    durations,
                    predecessors,
                    op.resumable,
                    family,
                    self.skill(op.skill, durations),
                    op.attended,
                    # A frozen operation is a fact: its material was there.
                    self.at(op.release) if op.release and op.frozen_on is None else 0,
                )
            )
        j = len(self.jobs)
        due = self.at(job.due) if job.due is not None else None
        self.jobs.append(scheduling.Job(tuple(operations), due=due, name=job.order_id))
        self.job_keys.append((job.order_id, [op.key for op in job.operations]))
        for k, op in enumerate(job.operations):
            if op.frozen_on is not None:
                ((machine, duration),) = operations[k].durations.items()
                setup = _ticks(op.setup_left_s) if op.setup_left_s > 0 else 0
                self.to_freeze.append(
                    (op.frozen_rank, machine, duration, j, k, op.frozen_operator, setup)
                )

    def _durations(self, op: PlanOperation) -> dict[int, int]:
        if op.frozen_on is not None:
            m = self.machine_index.get(op.frozen_on)
            if m is None:
                return {}
            return {m: _ticks(op.remaining_s)}
        overhead = math.ceil(self.network.overhead_s * TICKS_PER_SECOND)
        return {
            m: self.wall_ticks(true_duration_s(op, self.machines[m])) + overhead
            for m in self._able(op)
        }

    def _able(self, op: PlanOperation) -> list[int]:
        """The machines that :func:`can_do` ``op``, looked for once per kind of step."""
        kind = (
            op.process,
            tuple(op.requirements.items()),
            tuple(op.certifications),
            tuple(op.units),
            tuple(op.excluded),
        )
        found = self.able.get(kind)
        if found is None:
            found = [m for m, machine in enumerate(self.machines) if can_do(machine, op)]
            self.able[kind] = found
        return found

    def skill(self, name: str | None, durations: Mapping[int, int]) -> int | None:
        """A skill's index among the skills asked for; None when no operator is needed, or
        when no operator with it works in a plant of one of the operation's machines (the
        plant does not model that staff: the skill is not planned)."""
        plants = {self.machines[m].unit_id for m in durations}
        staffed = any(o.unit_id in plants and name in o.skills for o in self.network.operators)
        if name is None or not staffed:
            return None
        return self.skills.setdefault(name, len(self.skills))

    def operators(self) -> tuple[scheduling.Operator, ...]:
        """The network's operators on the machines of their plant, with the skills asked for;
        an operator whose plant has no machine here cannot attend anything."""
        found = []
        for operator in self.network.operators:
            if operator.unit_id not in self.plant:
                continue
            skills = frozenset(self.skills[s] for s in operator.skills if s in self.skills)
            roster = None if operator.roster is None else self.periods(operator.roster)
            found.append(
                scheduling.Operator(
                    operator.operator_id, skills, roster, self.plant[operator.unit_id]
                )
            )
            self.operator_ids.append(operator.operator_id)
            self.operator_units.append(operator.unit_id)
        return tuple(found)

    def setups(self) -> list[tuple[tuple[int, ...], ...] | None]:
        """Per machine, the family x family setup matrix (wall ticks) of the steps it may run:
        to family b after family a, the largest setup any step of family b asks after a (its
        "*" rule when it names no a); nothing within a family."""
        size = len(self.families)
        names = {index: name for name, index in self.families.items()}
        matrices: list[list[list[int]] | None] = [None] * len(self.machines)
        for family, rule, machines in self.setup_rules:
            for m in machines:
                matrix = matrices[m] or [[0] * size for _ in range(size)]
                matrices[m] = matrix
                for before in range(size):
                    if before == family:
                        continue
                    seconds = rule.get(names[before], rule.get("*", 0.0))
                    ticks = self.wall_ticks(seconds) if seconds > 0 else 0
                    matrix[before][family] = max(matrix[before][family], ticks)
        return [None if m is None else tuple(tuple(row) for row in m) for m in matrices]

    def frozen(self) -> tuple[scheduling.FrozenOperation, ...]:
        """Frozen operations queued on their machine from now, in rank order, back to back (each
        one's change-over still ahead, then its work), with the operator who attends each (if
        still one of the plant's: after ``operators()``), reserved for its setup or all of it."""
        found = []
        staff: dict[tuple[str, str | None], int] = {
            (unit, name): index
            for index, (unit, name) in enumerate(
                zip(self.operator_units, self.operator_ids, strict=True)
            )
        }
        for _rank, machine, duration, j, k, operator, setup in sorted(
            self.to_freeze, key=lambda item: item[:5]
        ):
            begin = self.machine_cursor.get(machine, 0)
            start = begin + setup
            self.machine_cursor[machine] = start + duration
            found.append(
                scheduling.FrozenOperation(
                    job=j,
                    op=k,
                    machine=machine,
                    start=start,
                    operator=staff.get((self.machines[machine].unit_id, operator)),
                    setup_start=begin if setup else None,
                )
            )
        return tuple(found)

    def windows(self) -> tuple[scheduling.Unavailability, ...]:
        found = []
        spans = [(w.machine_key, w.start, w.end) for w in self.network.windows]
        spans += [(m.key, self.now, m.down_until) for m in self.machines if m.down_until]
        for key, start, end in spans:
            machine = self.machine_index.get(key)
            if machine is None or end is None or end <= self.now:
                continue
            begin = max(self.at(start), self.machine_cursor.get(machine, 0))
            finish = self.at(end)
            if finish > begin:
                found.append(scheduling.Unavailability(machine, begin, finish))
        return tuple(found)

    def calendar(self, machine: PlanMachine) -> tuple[tuple[int, int], ...] | None:
        """The machine's open periods in ticks from now; rounding may make two touch: one."""
        if machine.calendar is None:
            return None
        return self.periods(machine.calendar)

    def periods(self, wall: Sequence[tuple[datetime, datetime]]) -> tuple[tuple[int, int], ...]:
        """Wall-clock periods in ticks from now, merged where rounding makes them touch."""
        periods: list[tuple[int, int]] = []
        for start, end in wall:
            begin, finish = self.at(start), self.at(end)
            if finish <= begin:
                continue
            if periods and begin <= periods[-1][1]:
                periods[-1] = (periods[-1][0], max(periods[-1][1], finish))
            else:
                periods.append((begin, finish))
        return tuple(periods)

    def transport(self) -> tuple[tuple[int, ...], ...]:
        hours = self.network.transport_hours
        if not hours:
            return ()
        return tuple(
            tuple(
                0 if a == b else self.wall_ticks(hours.get((a, b), 0.0) * 3600) for b in self.units
            )
            for a in self.units
        )

    def problem(self) -> scheduling.Problem:
        operators = self.operators()
        frozen = self.frozen()
        # A machine's current family may be one no planned step has (a setup rule names it).
        for machine in self.machines:
            if machine.setup_family is not None:
                self.families.setdefault(machine.setup_family, len(self.families))
        setups = self.setups()
        return scheduling.Problem(
            jobs=tuple(self.jobs),
            machines=tuple(
                scheduling.Machine(
                    m.key,
                    self.plant[m.unit_id],
                    self.calendar(m),
                    setups[i],
                    None
                    if setups[i] is None or m.setup_family is None
                    else self.families[m.setup_family],
                )
                for i, m in enumerate(self.machines)
            ),
            transport=self.transport(),
            unavailability=self.windows(),
            frozen=frozen,
            operators=operators,
        )


def plan(
    jobs: Sequence[PlanJob],
    network: Network,
    *,
    now: datetime,
    time_limit: float = 0.3,
    iteration_limit: int | None = None,
) -> Plan:
    """The best plan the core finds for ``jobs`` on ``network`` within ``time_limit`` seconds
    (or ``iteration_limit`` search steps: 0 keeps the core's first construction).

    Jobs with a step no machine can do are left out and listed in ``Plan.unplanned``.
    """
    if not network.machines:
        return Plan({}, {}, 0.0, {job.order_id: "the network has no machines" for job in jobs})
    jobs = list(jobs)
    result = _solve(jobs, network, now, time_limit, iteration_limit)
    for _ in range(MAX_SHARE_REPAIRS):
        repaired = _respect_shares(jobs, network, result)
        if repaired is None:
            break
        jobs = repaired
        result = _solve(jobs, network, now, time_limit, iteration_limit)
    return result


MAX_SHARE_REPAIRS = 8


def _solve(
    jobs: Sequence[PlanJob],
    network: Network,
    now: datetime,
    time_limit: float,
    iteration_limit: int | None = None,
) -> Plan:
    builder = _Builder(network, now)
    for job in jobs:
        builder.add_job(job)
    if not builder.jobs:
        return Plan({}, {}, 0.0, builder.unplanned)
    try:
        schedule = scheduling.solve(
            builder.problem(),
            objective=scheduling.Objective(makespan=1.0, weighted_tardiness=5.0),
            time_limit=time_limit,
            iteration_limit=iteration_limit,
        )
    except scheduling.SchedulingError as exc:
        raise PlanningError(f"the scheduling core refused the plan: {exc}") from exc
    return _read_back(builder, schedule)


def _respect_shares(jobs: list[PlanJob], network: Network, result: Plan) -> list[PlanJob] | None:
    """Jobs with one movable operation taken off a member that got more than its share of
    the order's work (``max_share``); None when every share is respected."""
    if not network.max_share:
        return None
    for index, job in enumerate(jobs):
        total = sum(op.duration_s for op in job.operations) or 1.0
        per_unit: dict[str, list[PlanOperation]] = {}
        for op in job.operations:
            if op.key in result.assignments:
                per_unit.setdefault(result.assignments[op.key].unit_id, []).append(op)
        for unit_id, ops in per_unit.items():
            limit = network.max_share.get(unit_id)
            if limit is None or sum(op.duration_s for op in ops) / total <= limit + 1e-9:
                continue
            moved = _move_one(ops, unit_id, network)
            if moved is not None:
                operations = [moved if op.key == moved.key else op for op in job.operations]
                return [
                    *jobs[:index],
                    PlanJob(job.order_id, operations, job.due),
                    *jobs[index + 1 :],
                ]
    return None


def _move_one(ops: list[PlanOperation], unit_id: str, network: Network) -> PlanOperation | None:
    """The largest movable operation, with ``unit_id``'s machines excluded, if another can do it."""
    unit_keys = [m.key for m in network.machines if m.unit_id == unit_id]
    for op in sorted(ops, key=lambda o: o.duration_s, reverse=True):
        if op.frozen_on is not None:
            continue
        moved = replace(op, excluded=(*op.excluded, *unit_keys))
        if any(can_do(machine, moved) for machine in network.machines):
            return moved
    return None


def _read_back(builder: _Builder, schedule: scheduling.Schedule) -> Plan:
    def when(ticks: int) -> datetime:
        return builder.now + timedelta(seconds=ticks / TICKS_PER_SECOND)

    assignments: dict[int, Assignment] = {}
    job_ends: dict[str, datetime] = {}
    for item in schedule.operations:
        order_id, keys = builder.job_keys[item.job]
        machine = builder.machines[item.machine]
        assignments[keys[item.op]] = Assignment(
            machine.unit_id,
            machine.machine,
            when(item.start),
            when(item.end),
            None if item.setup_start is None else when(item.setup_start),
            None if item.operator is None else builder.operator_ids[item.operator],
        )
        end = when(item.end)
        if order_id not in job_ends or end > job_ends[order_id]:
            job_ends[order_id] = end
    return Plan(
        assignments, job_ends, schedule.makespan / TICKS_PER_SECOND, dict(builder.unplanned)
    )
