"""Hypothesis strategies for random scheduling problems with every extended feature."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from cloud.scheduling import Job, Machine, Operation, Operator, Problem, Unavailability


@st.composite
def operations(
    draw: st.DrawFn, machines: int, index: int, tree: bool, families: int = 0
) -> Operation:
    eligible = draw(st.sets(st.integers(0, machines - 1), min_size=1, max_size=machines))
    durations = {m: draw(st.integers(0, 20)) for m in sorted(eligible)}
    resumable = draw(st.booleans())
    family = draw(st.none() | st.integers(0, families - 1)) if families else None
    if not tree or index == 0:
        return Operation(durations, resumable=resumable, family=family)
    preds = draw(st.sets(st.integers(0, index - 1), max_size=3))
    return Operation(durations, tuple(sorted(preds)), resumable=resumable, family=family)


@st.composite
def setup_matrix(draw: st.DrawFn, families: int) -> tuple[tuple[int, ...], ...] | None:
    """No setups, or any matrix (no triangle inequality, setups within a family too)."""
    if not draw(st.booleans()):
        return None
    return tuple(tuple(draw(st.integers(0, 12)) for _ in range(families)) for _ in range(families))


@st.composite
def jobs(draw: st.DrawFn, machines: int, families: int = 0) -> Job:
    count = draw(st.integers(1, 5))
    tree = draw(st.booleans())
    ops = tuple(draw(operations(machines, k, tree, families)) for k in range(count))
    due = draw(st.none() | st.integers(0, 150))
    return Job(
        ops,
        release=draw(st.integers(0, 30)),
        due=due,
        weight=draw(st.integers(0, 5)),
    )


@st.composite
def open_periods(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    """Shifts of 3 to 25 separated by 1 to 15 closed, then open long enough for any operation."""
    periods = []
    t = draw(st.integers(0, 10))
    for _ in range(draw(st.integers(0, 8))):
        length = draw(st.integers(3, 25))
        periods.append((t, t + length))
        t += length + draw(st.integers(1, 15))
    periods.append((t, t + 2000))
    return tuple(periods)


@st.composite
def with_operators(draw: st.DrawFn, problem: Problem) -> Problem:
    """One to three operators with one or two of three skills, on shifts or always, of a plant
    or any; some operations need one of the first one's skills, for their whole span or their
    setup only."""
    plants = max(machine.plant for machine in problem.machines) + 1
    operators = tuple(
        Operator(
            f"O{index}",
            frozenset(draw(st.sets(st.integers(0, 2), min_size=1, max_size=2))),
            draw(st.none() | open_periods()),
            # The first one works anywhere, so that every skill asked for can be attended.
            draw(st.none() | st.integers(0, plants - 1)) if index else None,
        )
        for index in range(draw(st.integers(1, 3)))
    )
    skills = sorted(operators[0].skills)
    jobs = tuple(
        replace(
            job,
            operations=tuple(
                replace(
                    op,
                    skill=draw(st.none() | st.sampled_from(skills)),
                    attended=draw(st.sampled_from(("all", "setup"))),
                )
                for op in job.operations
            ),
        )
        for job in problem.jobs
    )
    return replace(problem, jobs=jobs, operators=operators)


@st.composite
def problems(draw: st.DrawFn, calendars: bool = True, setups: bool = False) -> Problem:
    """``calendars``: unavailability windows and, for some machines, open periods;
    ``setups``: operation families and, for some machines, a setup matrix."""
    plants = draw(st.integers(1, 3))
    families = draw(st.integers(1, 3)) if setups else 0
    machines = tuple(
        Machine(
            f"M{m}",
            draw(st.integers(0, plants - 1)),
            draw(st.none() | open_periods()) if calendars else None,
            draw(setup_matrix(families)) if setups else None,
        )
        for m in range(draw(st.integers(1, 5)))
    )
    transport: tuple[tuple[int, ...], ...] = ()
    if plants > 1 and draw(st.booleans()):
        transport = tuple(
            tuple(0 if p == q else draw(st.integers(0, 15)) for q in range(plants))
            for p in range(plants)
        )
    windows: list[Unavailability] = []
    if calendars:
        for _ in range(draw(st.integers(0, 5))):
            start = draw(st.integers(0, 120))
            windows.append(
                Unavailability(
                    draw(st.integers(0, len(machines) - 1)), start, start + draw(st.integers(1, 30))
                )
            )
    return Problem(
        jobs=tuple(draw(jobs(len(machines), families)) for _ in range(draw(st.integers(1, 6)))),
        machines=machines,
        transport=transport,
        unavailability=tuple(windows),
    )


@st.composite
def with_releases(draw: st.DrawFn, problem: Problem) -> Problem:
    """Some operations get a release of their own (a purchased material arrives then), before,
    at or after their job's: the plan must start none of them, nor its setup, earlier."""
    jobs = tuple(
        replace(
            job,
            operations=tuple(
                replace(op, release=draw(st.sampled_from((0, 0, 5, 25, 60, 90))))
                for op in job.operations
            ),
        )
        for job in problem.jobs
    )
    return replace(problem, jobs=jobs)
