"""Setup and calendar variants of the classic instances, generated from published seeds.

No public flexible job shop set with sequence-dependent setups is stored with the project, so
the benchmark derives them from Brandimarte's (and Taillard's) instances, reproducibly:

- ``-sdst``: every job is one of ``FAMILIES`` product families (drawn per job); every machine
  gets its own family x family setup matrix, 0 within a family and drawn uniformly from
  [``SETUP_LOW``, ``SETUP_HIGH``] x the instance's mean processing time between two families
  (no triangle inequality is imposed, as in real change-overs).
- ``-cal``: every machine follows a shift calendar: open periods of 4-6 x the longest
  operation, closed 1-2 x, with a random phase per machine (plants in other shifts), and
  every operation is non-resumable (it must fit in one open period), so that CP-SAT gets the
  same model exactly (closed time as forbidden intervals).
- ``-sdst-cal``: both.
- ``-ops``: operators as a second resource: half the operations (drawn) need one of two skills
  for their whole span; a machine count / 2 operators (at least 2) have one or both skills
  (each skill held by someone), always on shift.

The seed of instance ``mkNN-…`` is ``SEED + NN`` (``taNN``: ``SEED + 100 + NN``), for the setups
and the calendar alike; the classic instance is read as usual.
"""

from __future__ import annotations

import random
import statistics
from dataclasses import replace

from cloud.scheduling import Job, Machine, Operator, Problem

SEED = 2300
FAMILIES = 5
SETUP_LOW = 0.2
SETUP_HIGH = 0.8
VARIANTS = ("-sdst-cal", "-sdst", "-cal", "-ops")


def split(name: str) -> tuple[str, str]:
    """``mk03-sdst`` -> (``mk03``, ``-sdst``); a classic name has no variant."""
    for variant in VARIANTS:
        if name.endswith(variant):
            return name[: -len(variant)], variant
    return name, ""


def seed_of(base: str) -> int:
    number = int(base[2:])
    return SEED + number + (100 if base.startswith("ta") else 0)


def derive(problem: Problem, base: str, variant: str) -> Problem:
    seed = seed_of(base)
    if "sdst" in variant:
        problem = with_setups(problem, random.Random(seed))
    if "cal" in variant:
        problem = with_calendars(problem, random.Random(seed + 50))
    if "ops" in variant:
        problem = with_operators(problem, random.Random(seed + 70))
    return problem


def with_operators(problem: Problem, rng: random.Random) -> Problem:
    count = max(2, len(problem.machines) // 2)
    skills = [frozenset({0}), frozenset({1})]
    skills += [
        rng.choice((frozenset({0}), frozenset({1}), frozenset({0, 1}))) for _ in range(count - 2)
    ]
    operators = tuple(Operator(f"O{index}", s) for index, s in enumerate(skills))
    jobs = tuple(
        replace(
            job,
            operations=tuple(
                replace(op, skill=rng.randrange(2) if rng.random() < 0.5 else None)
                for op in job.operations
            ),
        )
        for job in problem.jobs
    )
    return replace(problem, jobs=jobs, operators=operators)


def _durations(problem: Problem) -> list[int]:
    return [d for job in problem.jobs for op in job.operations for d in op.durations.values()]


def with_setups(problem: Problem, rng: random.Random) -> Problem:
    mean = statistics.fmean(_durations(problem))
    low, high = max(1, round(SETUP_LOW * mean)), max(1, round(SETUP_HIGH * mean))
    jobs = tuple(
        replace(job, operations=tuple(replace(op, family=family) for op in job.operations))
        for job, family in ((job, rng.randrange(FAMILIES)) for job in problem.jobs)
    )
    machines = tuple(
        replace(
            machine,
            setups=tuple(
                tuple(0 if a == b else rng.randint(low, high) for b in range(FAMILIES))
                for a in range(FAMILIES)
            ),
        )
        for machine in problem.machines
    )
    return replace(problem, jobs=jobs, machines=machines)


def with_calendars(problem: Problem, rng: random.Random) -> Problem:
    longest = max(_durations(problem))
    setups = max((max(map(max, m.setups)) for m in problem.machines if m.setups), default=0)
    block = longest + setups
    # Enough periods for a serial schedule with every setup, twice over.
    total = 2 * sum(
        max(op.durations.values()) + setups for j in problem.jobs for op in j.operations
    )
    machines: list[Machine] = []
    for machine in problem.machines:
        open_for, closed_for = rng.randint(4 * block, 6 * block), rng.randint(block, 2 * block)
        t = -rng.randrange(open_for + closed_for)
        periods = []
        while t < total * (open_for + closed_for) // open_for:
            start, end = max(0, t), t + open_for
            if end > start:
                periods.append((start, end))
            t += open_for + closed_for
        machines.append(replace(machine, calendar=tuple(periods)))
    jobs = tuple(
        Job(
            tuple(replace(op, resumable=False) for op in job.operations),
            job.release,
            job.due,
            job.weight,
            job.name,
        )
        for job in problem.jobs
    )
    return replace(problem, jobs=jobs, machines=tuple(machines))
