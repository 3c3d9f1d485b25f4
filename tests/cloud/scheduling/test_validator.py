"""The independent validator catches every kind of broken schedule."""

from __future__ import annotations

from dataclasses import replace

import pytest

from cloud.scheduling import (
    FrozenOperation,
    InvalidScheduleError,
    Job,
    Machine,
    Operation,
    Problem,
    ProblemError,
    ScheduledOperation,
    Unavailability,
    validate_schedule,
)

PROBLEM = Problem(
    jobs=(
        Job((Operation({0: 3}), Operation({1: 2})), due=4, weight=2),
        Job((Operation({0: 2, 1: 2}),)),
    ),
    machines=(Machine("A", 0), Machine("B", 1)),
    transport=((0, 1), (1, 0)),
    unavailability=(Unavailability(1, 10, 12),),
)
GOOD = (
    ScheduledOperation(0, 0, 0, 0, 3),
    ScheduledOperation(0, 1, 1, 4, 6),
    ScheduledOperation(1, 0, 1, 0, 2),
)


def broken(index: int, **changes: int) -> list[ScheduledOperation]:
    ops = list(GOOD)
    ops[index] = replace(ops[index], **changes)
    return ops


def test_a_valid_schedule_and_its_objective() -> None:
    report = validate_schedule(PROBLEM, GOOD)
    assert (report.makespan, report.weighted_tardiness) == (6, 4.0)


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        (broken(1, start=3, end=5), "before op 0 arrives at 4"),
        (broken(2, machine=0, start=2, end=4), "overlaps"),
        (broken(1, start=9, end=11), "overlaps its unavailability"),
        (broken(0, end=4), "lasts 4, not 3"),
        (broken(0, machine=1), "not eligible"),
        (GOOD[:2], "job 1 op 0 is not scheduled"),
        ([*GOOD, GOOD[0]], "scheduled twice"),
    ],
)
def test_violations_are_reported(ops: list[ScheduledOperation], message: str) -> None:
    with pytest.raises(InvalidScheduleError, match=message):
        validate_schedule(PROBLEM, ops)


def test_release_and_frozen_operations() -> None:
    problem = replace(
        PROBLEM,
        jobs=(PROBLEM.jobs[0], replace(PROBLEM.jobs[1], release=1)),
        frozen=(FrozenOperation(0, 0, 0, 1),),
    )
    with pytest.raises(InvalidScheduleError) as info:
        validate_schedule(problem, GOOD)
    assert any("before release 1" in v for v in info.value.violations)
    assert any("is frozen at machine 0 start 1" in v for v in info.value.violations)


# One machine open [0, 8) and [16, 24): a resumable job of 6 and a non-resumable one of 4.
SHIFTS = Problem(
    jobs=(Job((Operation({0: 6}),)), Job((Operation({0: 4}, resumable=False),))),
    machines=(Machine("A", calendar=((0, 8), (16, 24))),),
)


def test_a_resumable_operation_pauses_over_closed_time() -> None:
    ops = [ScheduledOperation(0, 0, 0, 4, 18), ScheduledOperation(1, 0, 0, 0, 4)]
    assert validate_schedule(SHIFTS, ops).makespan == 18


@pytest.mark.parametrize(
    ("resumable", "non_resumable", "message"),
    [
        ((4, 10), (0, 4), "works 4 in open time, not 6"),
        ((9, 19), (0, 4), "starts while the machine is closed"),
        ((2, 12), (16, 20), "ends after closed time it did not need"),
        ((0, 6), (6, 10), "not within one open period"),
        ((0, 6), (8, 12), "not within one open period"),
        ((0, 6), (16, 21), "lasts 5, not 4"),
    ],
)
def test_calendar_violations(
    resumable: tuple[int, int], non_resumable: tuple[int, int], message: str
) -> None:
    ops = [ScheduledOperation(0, 0, 0, *resumable), ScheduledOperation(1, 0, 0, *non_resumable)]
    with pytest.raises(InvalidScheduleError, match=message):
        validate_schedule(SHIFTS, ops)


@pytest.mark.parametrize(
    ("calendar", "message"),
    [
        (((0, 8), (8, 16)), "closed time between them"),
        (((5, 3),), "0 <= start < end"),
        (((0, 2**50),), "0 <= start < end < 2"),
    ],
)
def test_bad_calendars_are_refused(calendar: tuple[tuple[int, int], ...], message: str) -> None:
    with pytest.raises(ProblemError, match=message):
        Problem(jobs=(Job((Operation({0: 1}),)),), machines=(Machine("A", calendar=calendar),))
