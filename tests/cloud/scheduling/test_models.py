"""Problem validation: every inconsistency is a clear ProblemError."""

from __future__ import annotations

import pytest

from cloud.scheduling import (
    FrozenOperation,
    Job,
    Machine,
    Objective,
    Operation,
    Problem,
    ProblemError,
    Unavailability,
)

MACHINES = (Machine("A", 0), Machine("B", 1))


def make(*jobs: Job, **kwargs: object) -> Problem:
    return Problem(jobs=jobs, machines=MACHINES, **kwargs)  # type: ignore[arg-type]


def test_operation_without_eligible_machine() -> None:
    with pytest.raises(ProblemError, match="job 0 operation 1 has no eligible machine"):
        make(Job((Operation({0: 1}), Operation({}))))


def test_precedence_cycle() -> None:
    job = Job((Operation({0: 1}, (2,)), Operation({0: 1}, (0,)), Operation({1: 1}, (1,))))
    with pytest.raises(ProblemError, match="job 0: precedence cycle"):
        make(job)


def test_negative_duration() -> None:
    with pytest.raises(ProblemError, match="duration on machine 1 must be an integer >= 0"):
        make(Job((Operation({1: -3}),)))


def test_unknown_machine_and_bad_predecessor() -> None:
    with pytest.raises(ProblemError, match="unknown machine 7"):
        make(Job((Operation({7: 3}),)))
    with pytest.raises(ProblemError, match="invalid predecessor 5"):
        make(Job((Operation({0: 3}, (5,)),)))


def test_overlapping_frozen_operations() -> None:
    jobs = (Job((Operation({0: 5}),)), Job((Operation({0: 5}),)))
    frozen = (FrozenOperation(0, 0, 0, 0), FrozenOperation(1, 0, 0, 3))
    with pytest.raises(ProblemError, match="on machine 0, frozen job 0 operation 0 overlaps"):
        make(*jobs, frozen=frozen)


def test_frozen_operation_in_an_unavailability_window() -> None:
    with pytest.raises(ProblemError, match=r"unavailability \[0, 100\) overlaps frozen job 0"):
        make(
            Job((Operation({0: 5}),)),
            frozen=(FrozenOperation(0, 0, 0, 10),),
            unavailability=(Unavailability(0, 0, 100), Unavailability(0, 2, 4)),
        )


def test_frozen_operation_needs_frozen_predecessors() -> None:
    with pytest.raises(ProblemError, match="its predecessor 0 is not"):
        make(Job((Operation({0: 5}), Operation({1: 5}))), frozen=(FrozenOperation(0, 1, 1, 9),))


def test_frozen_operation_respects_transport() -> None:
    job = Job((Operation({0: 5}), Operation({1: 5})))
    frozen = (FrozenOperation(0, 0, 0, 0), FrozenOperation(0, 1, 1, 6))
    with pytest.raises(ProblemError, match="before its frozen predecessor 0 arrives at 15"):
        make(job, frozen=frozen, transport=((0, 10), (10, 0)))


def test_frozen_on_ineligible_machine_and_twice() -> None:
    job = Job((Operation({0: 5}),))
    with pytest.raises(ProblemError, match="not eligible"):
        make(job, frozen=(FrozenOperation(0, 0, 1, 0),))
    with pytest.raises(ProblemError, match="frozen twice"):
        make(job, frozen=(FrozenOperation(0, 0, 0, 0), FrozenOperation(0, 0, 0, 0)))


def test_transport_matrix_shape_and_diagonal() -> None:
    job = Job((Operation({0: 5}),))
    with pytest.raises(ProblemError, match="square matrix covering all 2 plants"):
        make(job, transport=((0,),))
    with pytest.raises(ProblemError, match="within plant 1 must be 0"):
        make(job, transport=((0, 1), (1, 2)))


def test_windows_dates_and_objective() -> None:
    job = Job((Operation({0: 5}),))
    with pytest.raises(ProblemError, match="0 <= start < end"):
        make(job, unavailability=(Unavailability(0, 5, 5),))
    with pytest.raises(ProblemError, match="release must be an integer >= 0"):
        make(Job((Operation({0: 5}),), release=-1))
    with pytest.raises(ProblemError, match="has no operations"):
        make(Job(()))
    with pytest.raises(ProblemError, match="not all zero"):
        Objective(makespan=0)
    with pytest.raises(ProblemError, match="no machines"):
        Problem(jobs=(job,), machines=())


def test_durations_must_be_a_mapping() -> None:
    with pytest.raises(ProblemError, match="durations must map machine -> duration"):
        make(Job((Operation([(0, 3)]),)))  # type: ignore[arg-type]
