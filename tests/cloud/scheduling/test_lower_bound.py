"""The lower bound over open time: job paths and each machine's own work through the calendars.

It is what lets the search stop on a calendar instance, so it must never exceed the optimum:
the property test holds it to a brute-force optimum written without the core's code."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.scheduling import Job, Machine, Operation, Problem, lower_bound, solve
from tests.cloud.scheduling.dispatch_rule import place
from tests.cloud.scheduling.strategies import problems, with_releases
from tests.cloud.scheduling.test_solver import SLOW, solved

# Hours of two weeks from Monday 00:00, open 8-16 on weekdays.
WEEKDAYS = tuple((24 * day + 8, 24 * day + 16) for day in range(5))
TWO_WEEKS = WEEKDAYS + tuple((start + 168, end + 168) for start, end in WEEKDAYS)


def optimum(problem: Problem) -> int:
    """The least makespan, trying every order and machine, each operation at the earliest start
    its machine's calendar, windows and the operations already there leave it. Shifting a
    schedule's operations left in the order of their starts gives one of these, no later, so
    the best of them is optimal (without setups and operators)."""
    ops = [(j, k) for j, job in enumerate(problem.jobs) for k in range(len(job.operations))]
    placed: dict[tuple[int, int], tuple[int, int, int]] = {}
    best = [1 << 62]

    def branch(makespan: int) -> None:
        if makespan >= best[0]:
            return
        if len(placed) == len(ops):
            best[0] = makespan
            return
        for j, k in ops:
            preds = problem.predecessors(j, k)
            if (j, k) in placed or any((j, p) not in placed for p in preds):
                continue
            op = problem.jobs[j].operations[k]
            for machine, work in op.durations.items():
                ready = max(
                    [
                        problem.jobs[j].release,
                        op.release,
                        *(
                            placed[(j, p)][2] + problem.transport_time(placed[(j, p)][0], machine)
                            for p in preds
                        ),
                    ]
                )
                busy = tuple((s, e) for m, s, e in placed.values() if m == machine)
                begin, end = place(problem, machine, ready, work, op.resumable, busy)
                placed[(j, k)] = (machine, begin, end)
                branch(max(makespan, end))
                del placed[(j, k)]

    branch(0)
    return best[0]


def small(problem: Problem) -> Problem:
    """At most two jobs of at most two operations on at most two machines each: few enough
    orders and choices to try them all."""
    jobs = tuple(
        replace(
            job,
            operations=tuple(
                replace(op, durations=dict(list(op.durations.items())[:2]))
                for op in job.operations[:2]
            ),
        )
        for job in problem.jobs[:2]
    )
    return replace(problem, jobs=jobs)


def test_a_job_path_across_the_weekend() -> None:
    # Released Friday 12:00: 6 hours of welding pause over the weekend (Monday 10:00), then 7
    # hours of curing that must fit in one shift wait for Tuesday 8:00 and end at 15:00.
    job = Job(
        (Operation({0: 6}), Operation({1: 7}, resumable=False)),
        release=4 * 24 + 12,
    )
    problem = Problem(
        jobs=(job,),
        machines=(Machine("weld", calendar=TWO_WEEKS), Machine("paint", calendar=TWO_WEEKS)),
    )
    assert lower_bound(problem) == 168 + 24 + 15
    schedule = solved(problem)
    assert schedule.makespan == 168 + 24 + 15
    assert schedule.stats is not None
    assert schedule.stats.stop_reason == "lower bound"


def test_two_operations_before_a_closure() -> None:
    # Both fit before the closure at 10 on their own, not together: the second must wait for
    # the period at 20, which no job path shows, only the machine's work over its open time.
    problem = Problem(
        jobs=tuple(Job((Operation({0: 6}, resumable=False),)) for _ in range(2)),
        machines=(Machine("oven", calendar=((0, 10), (20, 40))),),
    )
    assert lower_bound(problem) == 26
    schedule = solved(problem)
    assert schedule.makespan == 26
    assert schedule.stats is not None and schedule.stats.stop_reason == "lower bound"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problem=problems().flatmap(with_releases).map(small), seed=st.integers(0, 2**16))
def test_the_bound_never_exceeds_the_optimum(problem: Problem, seed: int) -> None:
    best = optimum(problem)
    assert lower_bound(problem) <= best
    # The brute force is no worse than the core: it does find the optimum.
    schedule = solve(problem, iteration_limit=100, time_limit=SLOW, seed=seed)
    assert best <= schedule.makespan
