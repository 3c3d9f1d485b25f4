"""A synthetic network problem: plants with machines of several processes, orders whose operations
need those processes, transport between plants, due dates and maintenance windows. Used by the
benchmark's scale and re-plan runs and by tests; the same seed gives the same problem."""

from __future__ import annotations

import random

from cloud.scheduling.models import Job, Machine, Operation, Problem, Unavailability


def network_problem(
    *,
    jobs: int = 250,
    operations_per_job: int = 8,
    plants: int = 5,
    machines_per_plant: int = 20,
    processes: int = 10,
    seed: int = 0,
) -> Problem:
    rng = random.Random(seed)
    machines = tuple(
        Machine(f"P{p}-M{k}", p) for p in range(plants) for k in range(machines_per_plant)
    )
    # Each machine masters one process; each plant hosts a few processes, so every process is
    # offered by two plants (with the defaults) and a job travels when it changes process.
    hosted = max(1, 2 * processes // plants)
    skills = [
        (p * processes // plants + k % hosted) % processes
        for p in range(plants)
        for k in range(machines_per_plant)
    ]
    speed = [rng.uniform(0.8, 1.3) for _ in machines]
    capable = [[m for m, s in enumerate(skills) if s == process] for process in range(processes)]
    transport = tuple(
        tuple(0 if p == q else 10 + 7 * abs(p - q) for q in range(plants)) for p in range(plants)
    )
    all_jobs = tuple(_job(rng, operations_per_job, processes, capable, speed) for _ in range(jobs))
    load = sum(min(op.durations.values()) for job in all_jobs for op in job.operations)
    horizon = 2 * load // len(machines)
    windows = tuple(
        Unavailability(m, start, start + rng.randint(10, 40))
        for m in range(len(machines))
        for start in sorted(rng.sample(range(horizon), 2))
    )
    all_jobs = tuple(_with_dates(rng, job, horizon) for job in all_jobs)
    return Problem(all_jobs, machines, transport, _merge(windows))


def _job(
    rng: random.Random,
    count: int,
    processes: int,
    capable: list[list[int]],
    speed: list[float],
) -> Job:
    operations = []
    # A third of the orders are assemblies: two branches built in parallel, then joined.
    split = count // 2 if rng.random() < 1 / 3 else 0
    for k in range(count):
        process = rng.randrange(processes)
        while not capable[process]:
            process = rng.randrange(processes)
        base = rng.randint(5, 40)
        durations = {m: max(1, round(base * speed[m])) for m in capable[process]}
        if split and k == split:
            preds: tuple[int, ...] | None = ()
        elif split and k == count - 1:
            preds = (split - 1, k - 1)
        else:
            preds = None
        operations.append(Operation(durations, preds))
    return Job(tuple(operations))


def _with_dates(rng: random.Random, job: Job, horizon: int) -> Job:
    release = rng.randrange(horizon // 3)
    work = sum(min(op.durations.values()) for op in job.operations)
    due = release + int(work * rng.uniform(1.5, 4.0))
    return Job(job.operations, release=release, due=due, weight=rng.choice((1, 1, 2, 5)))


def _merge(windows: tuple[Unavailability, ...]) -> tuple[Unavailability, ...]:
    """Overlapping windows of one machine merged, so every window reads as one stop."""
    merged: list[Unavailability] = []
    for w in sorted(windows, key=lambda w: (w.machine, w.start)):
        last = merged[-1] if merged else None
        if last and last.machine == w.machine and w.start <= last.end:
            merged[-1] = Unavailability(w.machine, last.start, max(last.end, w.end))
        else:
            merged.append(w)
    return tuple(merged)
