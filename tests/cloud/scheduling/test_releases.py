"""Operations with a release of their own (a purchased material arrives then): the core never
starts one earlier, and the independent validator checks it."""

from __future__ import annotations

from dataclasses import replace

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
    ScheduledOperation,
    lower_bound,
    solve,
    validate_schedule,
)
from cloud.scheduling.exceptions import InvalidScheduleError
from tests.cloud.scheduling.strategies import problems, with_operators, with_releases

SLOW = 30.0
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Weld a frame (any time), then fit a motor that a supplier delivers at 50.
FRAME_THEN_MOTOR = Problem(
    jobs=(Job((Operation({0: 10}), Operation({1: 5}, release=50))),),
    machines=(Machine("weld"), Machine("assembly")),
)


def test_an_operation_waits_for_its_own_release() -> None:
    schedule = solve(FRAME_THEN_MOTOR, iteration_limit=50, time_limit=SLOW)
    validate_schedule(FRAME_THEN_MOTOR, schedule)
    by_op = {o.op: o for o in schedule.operations}
    assert by_op[0].start == 0
    assert by_op[1].start == 50
    assert schedule.makespan == 55
    assert lower_bound(FRAME_THEN_MOTOR) == 55


def test_the_validator_names_an_operation_started_before_its_release() -> None:
    early = (
        ScheduledOperation(0, 0, 0, 0, 10),
        ScheduledOperation(0, 1, 1, 10, 15),
    )
    with pytest.raises(InvalidScheduleError) as info:
        validate_schedule(FRAME_THEN_MOTOR, early)
    assert info.value.violations == ["job 0 op 1 starts at 10, before its own release 50"]


def test_a_setup_before_the_release_is_a_violation() -> None:
    problem = Problem(
        jobs=(Job((Operation({0: 5}, family=1, release=20),)),),
        machines=(Machine("paint", setups=((0, 8), (8, 0)), setup_family=0),),
    )
    schedule = solve(problem, iteration_limit=10, time_limit=SLOW)
    validate_schedule(problem, schedule)
    (op,) = schedule.operations
    assert op.setup_start == 20 and op.start == 28
    with pytest.raises(InvalidScheduleError, match="before its own release 20"):
        validate_schedule(problem, [ScheduledOperation(0, 0, 0, 20, 25, 12, 20)])


@pytest.mark.parametrize("release", [-1, 1.5, True, 1 << 50])
def test_a_release_must_be_a_time(release: object) -> None:
    with pytest.raises(ProblemError, match="job 0 operation 0: release must be an integer"):
        Problem(jobs=(Job((Operation({0: 1}, release=release),)),), machines=(Machine("m"),))  # type: ignore[arg-type]


def test_a_frozen_operation_cannot_have_started_before_its_release() -> None:
    with pytest.raises(ProblemError, match="frozen start 10 is before the release"):
        replace(
            FRAME_THEN_MOTOR, frozen=(FrozenOperation(0, 0, 0, 0), FrozenOperation(0, 1, 1, 10))
        )


@SETTINGS
@given(
    problem=problems(calendars=True, setups=True).flatmap(with_operators).flatmap(with_releases),
    seed=st.integers(0, 2**32),
    tardiness=st.booleans(),
)
def test_random_problems_respect_every_release(
    problem: Problem, seed: int, tardiness: bool
) -> None:
    objective = Objective(makespan=1, weighted_tardiness=3) if tardiness else Objective()
    schedule = solve(problem, objective=objective, iteration_limit=40, time_limit=SLOW, seed=seed)
    validate_schedule(problem, schedule, objective=objective)
    assert schedule.makespan >= lower_bound(problem)
