"""Operators as a second resource: skills, rosters, never two operations at once."""

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
    Operator,
    Problem,
    ScheduledOperation,
    validate_schedule,
)
from cloud.scheduling.exceptions import InvalidScheduleError, ProblemError
from tests.cloud.scheduling.dispatch_rule import earliest_end_rule
from tests.cloud.scheduling.strategies import open_periods, problems, with_operators
from tests.cloud.scheduling.test_solver import (
    REPLAN_OBJECTIVE,
    SETTINGS,
    refused,
    rejected,
    solved,
    with_breakdown,
)

WELDING, PAINTING = 0, 1


def test_an_operator_shared_by_two_machines() -> None:
    # Two welding cells, one welder: the two welds cannot run side by side, although the cells
    # could; the welder attends one, then the other.
    jobs = tuple(Job((Operation({0: 5, 1: 5}, skill=WELDING),)) for _ in range(2))
    machines = (Machine("weld-1"), Machine("weld-2"))
    alone = Problem(jobs=jobs, machines=machines)
    assert solved(alone).makespan == 5
    shared = replace(alone, operators=(Operator("Luca", frozenset({WELDING})),))
    schedule = solved(shared)
    assert schedule.makespan == 10
    assert {o.operator for o in schedule.operations} == {0}
    # With a second welder both run at once again.
    two = replace(shared, operators=(*shared.operators, Operator("Sara", frozenset({WELDING}))))
    assert solved(two).makespan == 5


def test_an_operator_for_the_setup_only_and_on_shift() -> None:
    # A paint booth's colour change needs the painter, on shift from 10; the painting runs on
    # its own. The grey part follows a frozen black one: its 3-unit change-over waits for 10.
    jobs = (
        Job((Operation({0: 4}, family=1),)),
        Job((Operation({0: 3}, family=0, skill=PAINTING, attended="setup"),)),
    )
    problem = Problem(
        jobs=jobs,
        machines=(Machine("paint", setups=((0, 0), (3, 0))),),
        frozen=(FrozenOperation(0, 0, 0, 0),),
        operators=(Operator("Ada", frozenset({PAINTING}), roster=((10, 14), (20, 30))),),
    )
    grey = next(o for o in solved(problem).operations if o.job == 1)
    assert (grey.setup_start, grey.setup_end, grey.start, grey.end, grey.operator) == (
        10,
        13,
        13,
        16,
        0,
    )


def test_the_validator_checks_operators() -> None:
    jobs = tuple(Job((Operation({0: 5, 1: 5}, skill=WELDING),)) for _ in range(2))
    problem = Problem(
        jobs=jobs,
        machines=(Machine("weld-1"), Machine("weld-2")),
        operators=(Operator("Luca", frozenset({WELDING}), roster=((0, 8),)),),
    )
    at_once = [ScheduledOperation(0, 0, 0, 0, 5, operator=0), ScheduledOperation(1, 0, 1, 0, 5)]
    for ops, message in (
        (at_once, "needs an operator with skill 0, has none"),
        (
            [*at_once[:1], ScheduledOperation(1, 0, 1, 0, 5, operator=0)],
            "operator 0 attends job 0 op 0 and job 1 op 0 at once",
        ),
        (
            [*at_once[:1], ScheduledOperation(1, 0, 1, 5, 10, operator=0)],
            "operator 0 is not on shift for all of it",
        ),
    ):
        assert message in refused(problem, ops)


def test_a_skill_nobody_has_is_refused() -> None:
    why = rejected(
        jobs=(Job((Operation({0: 1}, skill=3),)),),
        machines=(Machine("m"),),
        operators=(Operator("Luca", frozenset({0})),),
    )
    assert "needs skill 3, which no operator has" in why


@st.composite
def staffed(draw: st.DrawFn) -> Problem:
    return draw(with_operators(draw(problems(setups=True))))


@SETTINGS
@given(problem=staffed(), seed=st.integers(0, 2**32))
def test_random_problems_with_operators(problem: Problem, seed: int) -> None:
    solved(problem, seed=seed)
    solved(problem, seed=seed, objective=Objective(makespan=1, weighted_tardiness=2))


@SETTINGS
@given(problem=staffed(), seed=st.integers(0, 2**32))
def test_with_operators_the_core_is_no_worse_than_a_dispatch_rule(
    problem: Problem, seed: int
) -> None:
    baseline = validate_schedule(problem, earliest_end_rule(problem))
    assert solved(problem, seed=seed).makespan <= baseline.makespan


@SETTINGS
@given(problem=staffed(), cut=st.floats(0.0, 1.0), seed=st.integers(0, 100))
def test_replanning_with_operators(problem: Problem, cut: float, seed: int) -> None:
    before = solved(problem, iteration_limit=50, seed=seed)
    now = int(before.makespan * cut)
    running = [o for o in before.operations if o.busy_from < now]
    # Running operations keep their operators and their setups: reserved, the re-plan gives
    # them nothing else.
    frozen = tuple(
        FrozenOperation(o.job, o.op, o.machine, o.start, o.operator, o.setup_start, o.setup_end)
        for o in running
    )
    replanned = with_breakdown(problem, frozen=frozen, running=running, now=now, seed=seed)
    solved(replanned, warm_start=before, objective=REPLAN_OBJECTIVE, seed=seed)


def test_an_operator_attends_machines_of_their_plant_only() -> None:
    # Two plants, one welder each: each plant's weld waits for its own welder, not the other's.
    jobs = tuple(
        Job((Operation({m: 5}, skill=WELDING), Operation({m: 5}, skill=WELDING))) for m in (0, 1)
    )
    problem = Problem(
        jobs=jobs,
        machines=(Machine("imola/weld-1", plant=0), Machine("faenza/weld-1", plant=1)),
        operators=(
            Operator("Luca", frozenset({WELDING}), plant=0),
            Operator("Sara", frozenset({WELDING}), plant=1),
        ),
    )
    schedule = solved(problem)
    assert schedule.makespan == 10
    assert {(o.machine, o.operator) for o in schedule.operations} == {(0, 0), (1, 1)}


def test_a_frozen_operations_operator_is_reserved_at_replan() -> None:
    # Luca welds job 0 on weld-1 (frozen, running from 0 to 10); at the re-plan job 1's weld on
    # weld-2 must wait for him (and Sara, on shift from 12, comes too late), not start at once.
    jobs = (
        Job((Operation({0: 10}, skill=WELDING),)),
        Job((Operation({1: 5}, skill=WELDING),)),
    )
    problem = Problem(
        jobs=jobs,
        machines=(Machine("weld-1"), Machine("weld-2")),
        frozen=(FrozenOperation(0, 0, 0, 0, operator=0),),
        operators=(
            Operator("Luca", frozenset({WELDING})),
            Operator("Sara", frozenset({WELDING}), roster=((12, 40),)),
        ),
    )
    schedule = solved(problem)
    running, weld = sorted(schedule.operations, key=lambda o: o.job)
    assert (running.start, running.end, running.operator) == (0, 10, 0)
    assert (weld.start, weld.end, weld.operator) == (10, 15, 0)
    # Without the frozen operation's operator, nothing holds Luca: the weld starts at once.
    unnamed = replace(problem, frozen=(FrozenOperation(0, 0, 0, 0),))
    assert next(o for o in solved(unnamed).operations if o.job == 1).start == 0
    # The validator refuses a plan that gives Luca job 1 while he attends the frozen weld.
    at_once = [running, ScheduledOperation(1, 0, 1, 0, 5, operator=0)]
    assert "operator 0 attends job 1 op 0 and job 0 op 0 at once" in refused(problem, at_once)
    assert "frozen operator 5 does not exist" in rejected(
        jobs=jobs, machines=problem.machines, frozen=(FrozenOperation(0, 0, 0, 0, 5),)
    )


def test_an_operator_never_attends_across_the_gap_between_shifts() -> None:
    # The weld (15) would fit on the machine from 0, pausing over the machine's break [10, 20),
    # but Luca's shifts end at 10 and start again at 20: he cannot attend [0, 25), which spans
    # his gap. The weld waits for a shift that holds all of it.
    problem = Problem(
        jobs=(Job((Operation({0: 15}, skill=WELDING),)),),
        machines=(Machine("weld-1", calendar=((0, 10), (20, 60))),),
        operators=(Operator("Luca", frozenset({WELDING}), roster=((0, 10), (20, 60))),),
    )
    (weld,) = solved(problem).operations
    assert (weld.start, weld.end, weld.operator) == (20, 35, 0)
    # The same on an always-open machine: the operator's gap alone moves the weld.
    always = replace(problem, machines=(Machine("weld-1"),))
    (weld,) = solved(always).operations
    assert (weld.start, weld.end) == (20, 35)
    across = [ScheduledOperation(0, 0, 0, 0, 25, operator=0)]
    assert "operator 0 is not on shift for all of it" in refused(problem, across)


@SETTINGS
@given(roster=open_periods(), start=st.integers(0, 250), length=st.integers(1, 40))
def test_the_validator_accepts_an_attended_span_only_within_one_shift(
    roster: tuple[tuple[int, int], ...], start: int, length: int
) -> None:
    # Counted instant by instant: every instant of the span on shift, all in the same period.
    problem = Problem(
        jobs=(Job((Operation({0: length}, skill=WELDING),)),),
        machines=(Machine("weld-1"),),
        operators=(Operator("Luca", frozenset({WELDING}), roster=roster),),
    )
    shifts = [
        next((index for index, (a, b) in enumerate(roster) if a <= t < b), None)
        for t in range(start, start + length)
    ]
    within_one = None not in shifts and len(set(shifts)) == 1
    weld = ScheduledOperation(0, 0, 0, start, start + length, operator=0)
    try:
        validate_schedule(problem, [weld])
    except InvalidScheduleError as exc:
        assert not within_one, str(exc)
        assert "operator 0 is not on shift for all of it" in str(exc)
    else:
        assert within_one


def test_a_frozen_setup_reserves_its_operator_for_the_setup() -> None:
    # Ada changes booth 1 over for a dispatched grey part: its setup [0, 3) then its work [3, 7)
    # are frozen, and only the setup needs her. Booth 2's black part needs her for its own
    # change-over (after a frozen white part): it may start only once she is free, at 3.
    jobs = (
        Job((Operation({0: 4}, family=1, skill=PAINTING, attended="setup"),)),
        Job((Operation({1: 2}, family=0),)),
        Job((Operation({1: 4}, family=1, skill=PAINTING, attended="setup"),)),
    )
    setups = ((0, 3), (3, 0))
    problem = Problem(
        jobs=jobs,
        machines=(Machine("booth-1", setups=setups), Machine("booth-2", setups=setups)),
        frozen=(
            FrozenOperation(0, 0, 0, 3, operator=0, setup_start=0),
            FrozenOperation(1, 0, 1, 0),
        ),
        operators=(Operator("Ada", frozenset({PAINTING})),),
    )
    schedule = solved(problem)
    grey, white, black = sorted(schedule.operations, key=lambda o: o.job)
    assert (grey.setup_start, grey.setup_end, grey.start, grey.end, grey.operator) == (
        0,
        3,
        3,
        7,
        0,
    )
    assert (black.setup_start, black.setup_end, black.start, black.operator) == (3, 6, 6, 0)
    # Without the frozen setup she would be free at once: the black change-over starts at 2.
    loose = replace(problem, frozen=(FrozenOperation(0, 0, 0, 3, operator=0), problem.frozen[1]))
    black = next(o for o in solved(loose).operations if o.job == 2)
    assert black.setup_start == 2
    # The validator refuses a plan that has her change booth 2 over during the frozen setup.
    during = replace(black, setup_start=2, setup_end=5, start=5, end=9)
    assert "operator 0 attends job 0 op 0 and job 2 op 0 at once" in refused(
        problem, [grey, white, during]
    )
    # And one that drops the frozen setup (the machine was busy with it).
    assert "job 0 op 0 is frozen at machine 0 start 3 setup (0, 3)" in refused(
        problem, [replace(grey, setup_start=None, setup_end=None), white, black]
    )


def test_a_frozen_setup_must_fit_before_its_work() -> None:
    jobs = (Job((Operation({0: 4}, family=0),), release=2),)
    for setup_start, setup_end, start in ((1, None, 5), (3, 6, 5), (4, 4, 5), (None, 3, 5)):
        try:
            Problem(
                jobs=jobs,
                machines=(Machine("m"),),
                frozen=(
                    FrozenOperation(0, 0, 0, start, setup_start=setup_start, setup_end=setup_end),
                ),
            )
        except ProblemError as exc:
            assert "frozen setup" in str(exc)
        else:
            raise AssertionError(f"accepted setup {setup_start}..{setup_end} before {start}")
