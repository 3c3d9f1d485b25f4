"""Sequence-dependent setups: every schedule passes the validator, which checks the setups."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from cloud.scheduling import (
    FrozenOperation,
    Job,
    Machine,
    Objective,
    Operation,
    Problem,
    ScheduledOperation,
    validate_schedule,
)
from tests.cloud.scheduling.dispatch_rule import earliest_end_rule
from tests.cloud.scheduling.strategies import problems
from tests.cloud.scheduling.test_solver import (
    REPLAN_OBJECTIVE,
    SETTINGS,
    WEEKDAYS,
    refused,
    rejected,
    solved,
    with_breakdown,
)

# Three colours on one paint line: light to dark is cheap, dark to light needs a full clean.
WHITE, GREY, BLACK = 0, 1, 2
PAINT = ((0, 2, 3), (8, 0, 2), (12, 8, 0))


def paint_job(colour: int, work: int = 4) -> Job:
    return Job((Operation({0: work}, family=colour),))


def test_a_setup_chain_runs_light_to_dark() -> None:
    # Black, white, grey, white, black: any order but light to dark pays a clean.
    jobs = tuple(paint_job(c) for c in (BLACK, WHITE, GREY, WHITE, BLACK))
    problem = Problem(jobs=jobs, machines=(Machine("paint", setups=PAINT),))
    schedule = solved(problem, iteration_limit=2000)
    order = sorted(schedule.operations, key=lambda o: o.start)
    colours = [jobs[o.job].operations[0].family for o in order]
    assert colours == [WHITE, WHITE, GREY, BLACK, BLACK]
    # 5 x 4 of work, white -> grey 2, grey -> black 2: the chain's setups are counted and shown.
    assert schedule.makespan == 24
    assert schedule.setups == 2
    grey = order[2]
    assert (grey.setup_start, grey.setup_end, grey.start) == (8, 10, 10)


def test_a_setup_is_machine_work_in_open_time() -> None:
    # A grey part after a black one on a day-shift line: the 8-hour clean starts Monday 12:00,
    # pauses over the night and ends Tuesday 12:00, when the work starts.
    jobs = (
        Job((Operation({0: 4}, family=BLACK),), release=8),
        Job((Operation({0: 3}, family=GREY),), release=8),
    )
    problem = Problem(
        jobs=jobs,
        machines=(Machine("paint", calendar=WEEKDAYS, setups=((0, 0, 0), (0, 0, 0), (0, 8, 0))),),
    )
    # Frozen black first, so the grey one has to change over.
    frozen = replace(problem, frozen=(FrozenOperation(0, 0, 0, 8),))
    schedule = solved(frozen)
    grey = next(o for o in schedule.operations if o.job == 1)
    assert (grey.setup_start, grey.setup_end, grey.start, grey.end) == (12, 24 + 12, 24 + 12, 39)


def test_a_non_resumable_operation_keeps_its_setup_in_the_same_shift() -> None:
    jobs = (
        Job((Operation({0: 4}, family=BLACK),), release=8),
        Job((Operation({0: 3}, resumable=False, family=GREY),), release=8),
    )
    problem = Problem(
        jobs=jobs,
        machines=(Machine("paint", calendar=WEEKDAYS, setups=((0, 0, 0), (0, 0, 0), (0, 2, 0))),),
        frozen=(FrozenOperation(0, 0, 0, 8),),
    )
    # Setup 2 + work 3 do not fit in 12-16: both wait for Tuesday 08:00.
    grey = next(o for o in solved(problem).operations if o.job == 1)
    assert (grey.setup_start, grey.setup_end, grey.start, grey.end) == (32, 34, 34, 37)


def test_the_validator_checks_setups() -> None:
    jobs = (paint_job(BLACK), paint_job(WHITE))
    problem = Problem(jobs=jobs, machines=(Machine("paint", setups=PAINT),))
    missing = [ScheduledOperation(0, 0, 0, 0, 4), ScheduledOperation(1, 0, 0, 4, 8)]
    short = [ScheduledOperation(0, 0, 0, 0, 4), ScheduledOperation(1, 0, 0, 10, 14, 4, 10)]
    overlapping = [ScheduledOperation(0, 0, 0, 0, 4), ScheduledOperation(1, 0, 0, 15, 19, 3, 15)]
    for ops, message in (
        (missing, "has no setup, needs 12"),
        (short, "setup has 6 of open time, needs 12"),
        (overlapping, "overlaps"),
    ):
        assert message in refused(problem, ops)
    validate_schedule(
        problem, [ScheduledOperation(0, 0, 0, 0, 4), ScheduledOperation(1, 0, 0, 16, 20, 4, 16)]
    )


@SETTINGS
@given(problem=problems(setups=True), seed=st.integers(0, 2**32))
def test_random_problems_with_setups(problem: Problem, seed: int) -> None:
    solved(problem, seed=seed)
    solved(problem, seed=seed, objective=Objective(makespan=1, weighted_tardiness=2))


@SETTINGS
@given(problem=problems(setups=True), seed=st.integers(0, 2**32))
def test_with_setups_the_core_is_no_worse_than_a_dispatch_rule(problem: Problem, seed: int) -> None:
    baseline = validate_schedule(problem, earliest_end_rule(problem))
    assert solved(problem, seed=seed).makespan <= baseline.makespan


def test_an_operation_without_family_clears_the_way_for_a_cheaper_change_over() -> None:
    # Found by the property test above. Painting red (family 2) then blue (family 0) costs 2 of
    # change-over; a blank without family in between costs none. The dispatch rule paints red,
    # runs the blank and paints blue at its release (4), ending at 5. The core's rules used to
    # keep blue's best machine from before the blank (the slower M1, to 6): placing work on a
    # machine was taken to make it only worse, which setups contradict.
    problem = Problem(
        jobs=(
            Job((Operation({0: 2}),)),
            Job((Operation({0: 1}, family=2),)),
            Job((Operation({0: 1, 1: 2}, family=0),), release=4),
        ),
        machines=(Machine("M0", setups=((0, 0, 0), (0, 0, 0), (2, 0, 0))), Machine("M1")),
    )
    assert validate_schedule(problem, earliest_end_rule(problem)).makespan == 5
    assert solved(problem, iteration_limit=0).makespan == 5


@SETTINGS
@given(problem=problems(setups=True), cut=st.floats(0.0, 1.0), seed=st.integers(0, 100))
def test_replanning_with_setups_and_frozen_operations(
    problem: Problem, cut: float, seed: int
) -> None:
    before = solved(problem, iteration_limit=50, seed=seed)
    now = int(before.makespan * cut)
    running = [o for o in before.operations if o.busy_from < now]
    frozen = tuple(FrozenOperation(o.job, o.op, o.machine, o.start) for o in running)
    replanned = with_breakdown(problem, frozen=frozen, running=running, now=now, seed=seed)
    solved(replanned, warm_start=before, objective=REPLAN_OBJECTIVE, seed=seed)


def test_a_machine_set_up_for_a_family_changes_over_before_its_first_operation() -> None:
    # The line ran black last: a white part first needs the full clean (12), a black one none.
    problem = Problem(
        jobs=(paint_job(WHITE),), machines=(Machine("paint", setups=PAINT, setup_family=BLACK),)
    )
    (white,) = solved(problem).operations
    assert (white.setup_start, white.setup_end, white.start, white.end) == (0, 12, 12, 16)
    black = replace(problem, jobs=(paint_job(BLACK),))
    assert solved(black).operations[0].setup_start is None
    # The validator counts the clean too.
    assert "has no setup, needs 12 after its setup family" in refused(
        problem, [ScheduledOperation(0, 0, 0, 0, 4)]
    )
    assert "setup family 3 is not one of its setups' families" in rejected(
        jobs=problem.jobs, machines=(Machine("paint", setups=PAINT, setup_family=3),)
    )


@SETTINGS
@given(problem=problems(setups=True), data=st.data(), seed=st.integers(0, 2**32))
def test_random_problems_with_machines_set_up_for_a_family(
    problem: Problem, data: st.DataObject, seed: int
) -> None:
    machines = tuple(
        replace(m, setup_family=data.draw(st.none() | st.integers(0, len(m.setups) - 1)))
        if m.setups
        else m
        for m in problem.machines
    )
    solved(replace(problem, machines=machines), seed=seed)
