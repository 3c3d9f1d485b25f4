"""Partner search: for each required process of an opportunity, every member of the network,
checked and ranked, with the reasons in words.

A pure decision core on plain values (no database; :mod:`cloud.opportunities.flows` gathers
them). For each process and member:

1. the process is offered, with every capability parameter at least the required value: the
   dispatcher's own matching (:func:`cloud.dispatch.planning.can_do` and its
   :func:`~cloud.dispatch.planning.shortfalls`), so search and plan never disagree;
2. the member holds the certifications asked for;
3. it shares capacity, and has room for the work before the due date: a what-if plan by the
   scheduling core on top of the current plan (see :func:`earliest_ends`), plus transport from
   the member to the site;
4. distance from the site, the member's hourly rate (so the line's cost) and its scorecard;
5. under a local-content rule, whether it is local (within the rule's distance of the site, or
   in its country: a member whose country is not known never is, and its words say so).

Eligible candidates are ranked by one score (:data:`WEIGHTS`): cost against the cheapest,
slack before the due date, nearness to the site and the scorecard.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cloud.dispatch import planning
from cloud.geo import LocalArea, Location, distance_km, locality

NEUTRAL_SCORE = 0.5
"""A member's scorecard when it has none yet: neither rewarded nor punished."""
UNKNOWN_RATE_SCORE = 0.5
"""The cost part of the score of a member that shares no hourly rate."""
DISTANCE_SCALE_KM = 100.0  # at 100 km the nearness part is one half
WEIGHTS = {"cost": 0.35, "time": 0.25, "distance": 0.15, "scorecard": 0.25}
WHAT_IF_ITERATIONS = 0
"""The core's construction alone: each line is alone on its own copies of the member's machines
(see :func:`earliest_ends`), so it starts at its earliest and a search can improve nothing."""


@dataclass(frozen=True)
class RequiredProcess:
    position: int
    step: str
    name: str
    process: str
    work_minutes: float
    requirements: Mapping[str, float] = field(default_factory=dict)
    certifications: Sequence[str] = ()


@dataclass(frozen=True)
class Member:
    """A member unit as the search sees it: machines already in the planner's form (with their
    calendars, speed factors and down times)."""

    unit_id: str
    company: str
    location: Location
    certifications: frozenset[str]
    machines: Sequence[planning.PlanMachine]
    shares_capacity: bool = True
    hourly_rate: float | None = None
    currency: str = "EUR"
    transport_hours: float = 0.0  # from the member to the site, plant hours
    country: str | None = None  # ISO 3166-1 alpha-2; None: not known


@dataclass(frozen=True)
class Busy:
    """A span a machine is taken by the current plan (or a maintenance window)."""

    machine_key: str
    start: datetime
    end: datetime


@dataclass(slots=True)
class Candidate:
    position: int
    unit_id: str
    company: str
    eligible: bool
    reasons: list[str]
    parameters_met: int
    parameters_total: int
    machines: list[str]
    distance_km: float
    transport_hours: float
    earliest_end: datetime | None
    delivery_at: datetime | None
    hourly_rate: float | None
    currency: str
    cost: float | None
    scorecard: float
    local: bool | None
    locality: str | None = None
    score: float = 0.0
    rank: int | None = None


@dataclass(frozen=True)
class Search:
    """What the search needs besides members and processes."""

    now: datetime
    due: datetime
    site: Location
    time_scale: float = 1.0
    overhead_s: float = 0.0
    local_area: LocalArea | None = None  # where the local-content rule counts as local


def _format_day(when: datetime) -> str:
    return f"{when.day} {when:%b}"


def _process_words(process: str) -> str:
    return process.replace("_", " ")


def _shortfall_words(name: str, offered: float, required: float) -> str:
    if offered == -math.inf:
        return f"{name} not given (needs {required:g})"
    return f"{name} {offered:g} < {required:g}"


def capability_check(
    member: Member, line: RequiredProcess
) -> tuple[list[planning.PlanMachine], list[str], int]:
    """The member's machines that can do ``line`` (certifications aside: the operation asks for
    none here, they are the member's and checked apart), why none can, and how many of the
    line's capability parameters its best machine meets."""
    total = len(line.requirements)
    operation = planning.PlanOperation(
        key=0,
        step=line.step,
        process=line.process,
        duration_s=0.0,
        requirements=line.requirements,
    )
    able = [m for m in member.machines if planning.can_do(m, operation)]
    if able:
        return able, [], total
    best: list[tuple[str, float, float]] | None = None
    for machine in member.machines:
        for capability in machine.capabilities:
            if capability.get("process") != line.process:
                continue
            parameters = capability.get("parameters") or {}
            assert isinstance(parameters, Mapping)
            missing = planning.shortfalls(parameters, line.requirements)
            if best is None or len(missing) < len(best):
                best = missing
    if best is None:
        return [], [f"does not offer {_process_words(line.process)}"], 0
    met = total - len(best)
    details = ", ".join(_shortfall_words(*item) for item in best)
    return [], [f"{met} of {total} capability parameters met: {details}"], met


def missing_certifications(member: Member, line: RequiredProcess) -> list[str]:
    return [f"no {c} certification" for c in line.certifications if c not in member.certifications]


def earliest_ends(
    search: Search,
    member: Member,
    lines: Sequence[tuple[RequiredProcess, Sequence[planning.PlanMachine]]],
    busy: Sequence[Busy],
) -> dict[int, datetime | None]:
    """When each line would end at the earliest on the member's able machines, on top of the
    current plan: one what-if by the scheduling core for all the member's lines.

    Every line gets its own copies of the machines it may use, each copy taken when its machine
    is (the current plan's operations and the maintenance windows, as unavailability), with the
    machine's calendar, speed factor and down time: the lines do not compete with each other,
    as each is asked about alone. The core places each at its earliest, in the plant's open
    time; None when it cannot plan it."""
    taken: dict[str, list[Busy]] = {}
    for span in busy:
        taken.setdefault(span.machine_key, []).append(span)
    machines: list[planning.PlanMachine] = []
    windows: list[planning.Window] = []
    jobs: list[planning.PlanJob] = []
    for line, able in lines:
        process = f"line-{line.position}"
        for machine in able:
            copy = planning.PlanMachine(
                unit_id=machine.unit_id,
                machine=f"{machine.machine}#{line.position}",
                capabilities=[{"process": process, "parameters": {}}],
                down_until=machine.down_until,
                calendar=machine.calendar,
                speed_factor=machine.speed_factor,
            )
            machines.append(copy)
            windows += [
                planning.Window(copy.key, s.start, s.end) for s in taken.get(machine.key, [])
            ]
        operation = planning.PlanOperation(
            key=line.position,
            step=line.step,
            process=process,
            duration_s=line.work_minutes * 60.0,
        )
        jobs.append(planning.PlanJob(process, [operation], due=search.due))
    if not jobs:
        return {}
    network = planning.Network(
        machines=machines,
        windows=windows,
        time_scale=search.time_scale,
        overhead_s=search.overhead_s,
    )
    try:
        ends = _plan(jobs, network, search.now).job_ends
    except planning.PlanningError:
        # A line the member's calendar has no room for at all (within its horizon) makes the
        # core refuse the whole plan: ask about each line alone, to name the one(s).
        ends = {}
        for job in jobs:
            try:
                ends.update(_plan([job], network, search.now).job_ends)
            except planning.PlanningError:
                continue
    return {line.position: ends.get(f"line-{line.position}") for line, _ in lines}


def _plan(
    jobs: Sequence[planning.PlanJob], network: planning.Network, now: datetime
) -> planning.Plan:
    return planning.plan(jobs, network, now=now, iteration_limit=WHAT_IF_ITERATIONS)


def search_partners(
    search: Search,
    lines: Sequence[RequiredProcess],
    members: Sequence[Member],
    busy: Sequence[Busy],
    scores: Mapping[str, float] | None = None,
) -> dict[int, list[Candidate]]:
    """Every member for every required process, ranked: eligible ones first by score."""
    scores = scores or {}
    found: dict[int, list[Candidate]] = {line.position: [] for line in lines}
    for member in members:
        checks = {line.position: _check(member, line) for line in lines}
        schedulable = [
            (line, able)
            for line in lines
            for able, reasons, _met in [checks[line.position]]
            if able and not reasons and member.shares_capacity
        ]
        ends = earliest_ends(search, member, schedulable, busy) if schedulable else {}
        for line in lines:
            able, reasons, met = checks[line.position]
            found[line.position].append(
                _candidate(search, member, line, able, reasons, met, ends, scores)
            )
    return {position: _ranked(candidates, search) for position, candidates in found.items()}


def _check(
    member: Member, line: RequiredProcess
) -> tuple[list[planning.PlanMachine], list[str], int]:
    able, reasons, met = capability_check(member, line)
    return able, reasons + missing_certifications(member, line), met


def _candidate(
    search: Search,
    member: Member,
    line: RequiredProcess,
    able: Sequence[planning.PlanMachine],
    reasons: list[str],
    met: int,
    ends: Mapping[int, datetime | None],
    scores: Mapping[str, float],
) -> Candidate:
    reasons = list(reasons)
    km = distance_km(member.location, search.site)
    hours = member.transport_hours
    end = ends.get(line.position)
    delivery = None
    if not member.shares_capacity:
        reasons.append("shares no capacity with the network")
    elif able and not reasons:
        if end is None:
            reasons.append("its calendar has no room for this work")
        else:
            delivery = end + timedelta(hours=hours / search.time_scale)
            if delivery > search.due:
                reasons.append(
                    f"no capacity before {_format_day(search.due)} (earliest delivery "
                    f"{_format_day(delivery)} {delivery:%H:%M})"
                )
    rate = member.hourly_rate
    area = search.local_area
    place = None if area is None else locality(area, member.location, member.country)
    return Candidate(
        position=line.position,
        unit_id=member.unit_id,
        company=member.company,
        eligible=not reasons,
        reasons=reasons,
        parameters_met=met,
        parameters_total=len(line.requirements),
        machines=[m.machine for m in able],
        distance_km=round(km, 1),
        transport_hours=round(hours, 2),
        earliest_end=end,
        delivery_at=delivery,
        hourly_rate=rate,
        currency=member.currency,
        cost=None if rate is None else round(rate * line.work_minutes / 60.0, 2),
        scorecard=scores.get(member.unit_id, NEUTRAL_SCORE),
        local=None if place is None else place.local,
        locality=None if place is None else place.words,
    )


def _score(candidate: Candidate, cheapest: float | None, search: Search) -> float:
    if candidate.cost is None or cheapest is None:
        cost = UNKNOWN_RATE_SCORE
    else:
        cost = 1.0 if candidate.cost <= 0 else min(1.0, cheapest / candidate.cost)
    window = (search.due - search.now).total_seconds()
    if candidate.delivery_at is None or window <= 0:
        time = 0.0
    else:
        time = max(0.0, min(1.0, (search.due - candidate.delivery_at).total_seconds() / window))
    distance = 1.0 / (1.0 + candidate.distance_km / DISTANCE_SCALE_KM)
    parts = {"cost": cost, "time": time, "distance": distance, "scorecard": candidate.scorecard}
    return round(sum(WEIGHTS[name] * value for name, value in parts.items()), 4)


def _ranked(candidates: Sequence[Candidate], search: Search) -> list[Candidate]:
    """Scored; eligible ones first by score (ranked 1, 2, …), then the others, nearest to
    eligible (fewest reasons) first."""
    costs = [c.cost for c in candidates if c.eligible and c.cost is not None]
    cheapest = min(costs, default=None)
    for candidate in candidates:
        candidate.score = _score(candidate, cheapest, search)
    ranked = sorted(candidates, key=lambda c: (not c.eligible, len(c.reasons), -c.score, c.unit_id))
    for rank, candidate in enumerate((c for c in ranked if c.eligible), start=1):
        candidate.rank = rank
    return ranked
