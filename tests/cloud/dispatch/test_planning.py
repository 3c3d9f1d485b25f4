"""Orders' operations as a scheduling problem: eligibility, frozen work, windows, sharing limits.

Every plan is also checked by the scheduling package's independent validator.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from cloud.dispatch import planning
from cloud.dispatch.planning import Network, PlanJob, PlanMachine, PlanOperation, Window

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


def machine(unit: str, name: str, process: str, certs: tuple[str, ...] = (), **params: object):
    return PlanMachine(unit, name, [{"process": process, "parameters": params}], frozenset(certs))


MACHINES = [
    machine("metal", "laser-1", "laser_cutting", max_thickness_steel_mm=25),
    machine("metal", "weld-1", "welding"),
    machine("metal", "mill-1", "milling", max_workpiece_mm="650 x 520 x 475"),
    machine("other", "weld-9", "welding"),
    machine("other", "laser-9", "laser_cutting", max_thickness_steel_mm=6),
    machine("lead", "test-1", "testing", ("ISO9001",)),
]


def op(key: int, step: str, process: str, minutes: float, after=(), **extra: object):
    return PlanOperation(key, step, process, minutes * 60, tuple(after), **extra)


JOB = PlanJob(
    "ord-1",
    [
        op(1, "cut", "laser_cutting", 60, requirements={"max_thickness_steel_mm": 12}),
        op(2, "weld", "welding", 100, ["cut"]),
        op(3, "test", "testing", 50, ["weld"], certifications=("ISO9001",)),
    ],
)


def test_capabilities_parameters_and_certifications_decide_eligibility() -> None:
    cut, _weld, test = JOB.operations
    assert [m.machine for m in MACHINES if planning.can_do(m, cut)] == ["laser-1"]
    assert [m.machine for m in MACHINES if planning.can_do(m, test)] == ["test-1"]
    mill = op(4, "mill", "milling", 10, requirements={"max_workpiece_mm": 600})
    assert planning.can_do(MACHINES[2], mill)
    too_big = op(4, "mill", "milling", 10, requirements={"max_workpiece_mm": 700})
    assert not planning.can_do(MACHINES[2], too_big)
    assert "max_workpiece_mm ≥ 700" in planning.explain_ineligible(too_big)


def test_a_step_given_to_a_member_goes_only_to_its_machines() -> None:
    weld = op(2, "weld", "welding", 100)
    assert [m.machine for m in MACHINES if planning.can_do(m, weld)] == ["weld-1", "weld-9"]
    theirs = replace(weld, units=("other",))
    assert [m.machine for m in MACHINES if planning.can_do(m, theirs)] == ["weld-9"]
    nobody = replace(weld, units=("lead",))
    assert "at lead" in planning.explain_ineligible(nobody)
    result = planning.plan(
        [PlanJob("ord-2", [theirs])], Network(MACHINES), now=NOW, time_limit=0.05
    )
    assert result.assignments[2].machine == "weld-9"
    assert planning.machine_work({"units": ["other"]})["units"] == ("other",)


def test_a_plan_respects_precedence_and_eligibility() -> None:
    result = planning.plan([JOB], Network(MACHINES), now=NOW, time_limit=0.05)
    cut, weld, test = (result.assignments[k] for k in (1, 2, 3))
    assert cut.machine == "laser-1" and test.machine == "test-1"
    assert cut.end <= weld.start and weld.end <= test.start
    assert result.job_ends["ord-1"] == test.end


def test_frozen_work_stays_and_windows_are_avoided() -> None:
    frozen = PlanJob(
        "ord-0", [op(9, "weld", "welding", 30, frozen_on="metal/weld-1", remaining_s=600)]
    )
    window = Window("other/weld-9", NOW, NOW + timedelta(hours=10))
    result = planning.plan(
        [frozen, JOB], Network(MACHINES, windows=[window]), now=NOW, time_limit=0.05
    )
    kept = result.assignments[9]
    assert kept.machine == "weld-1" and kept.start == NOW
    weld = result.assignments[2]
    assert weld.machine == "weld-1" and weld.start >= kept.end


def test_a_member_gets_no_more_than_its_share_of_an_order() -> None:
    network = Network(MACHINES, max_share={"metal": 0.4})
    result = planning.plan([JOB], network, now=NOW, time_limit=0.05)
    assert result.assignments[1].unit_id == "metal"  # only metal can cut 12 mm
    assert result.assignments[2].unit_id == "other"  # so the welding moves away
    unlimited = planning.plan([JOB], Network(MACHINES), now=NOW, time_limit=0.05)
    assert unlimited.assignments[1].unit_id == "metal"


def test_down_machines_and_unknown_steps_are_reported() -> None:
    broken = [
        PlanMachine(m.unit_id, m.machine, m.capabilities, m.certifications, NOW + timedelta(days=1))
        if m.machine == "weld-1"
        else m
        for m in MACHINES
    ]
    result = planning.plan([JOB], Network(broken), now=NOW, time_limit=0.05)
    assert result.assignments[2].machine == "weld-9"
    impossible = PlanJob("ord-2", [op(5, "paint", "painting", 10)])
    result = planning.plan([impossible], Network(MACHINES), now=NOW, time_limit=0.05)
    assert "painting" in result.unplanned["ord-2"]


@pytest.mark.parametrize("scale", [1.0, 600.0])
def test_durations_are_scaled_to_wall_clock(scale: float) -> None:
    job = PlanJob("ord-3", [op(1, "weld", "welding", 60)])
    result = planning.plan([job], Network(MACHINES, time_scale=scale), now=NOW, time_limit=0.05)
    assignment = result.assignments[1]
    assert (assignment.end - assignment.start).total_seconds() == pytest.approx(3600 / scale)


def test_a_machine_follows_its_plants_calendar_unless_lights_out() -> None:
    # Open 08:00-12:00 and 14:00-18:00 today and tomorrow. The lights-out laser cuts from 08:00 to
    # 09:00; 5 hours of welding run 09:00-12:00 and 14:00-16:00; 3 hours of curing paint do not
    # fit in 16:00-18:00 and wait for tomorrow 08:00.
    today = [(NOW + timedelta(hours=h), NOW + timedelta(hours=h + 4)) for h in (0, 6, 24, 30)]
    weld = PlanMachine("metal", "weld-1", [{"process": "welding"}], calendar=today)
    laser = PlanMachine("metal", "laser-1", [{"process": "laser_cutting"}], calendar=None)
    paint = PlanMachine("metal", "paint-1", [{"process": "painting"}], calendar=today)
    job = PlanJob(
        "ord-4",
        [
            op(1, "cut", "laser_cutting", 60),
            op(2, "weld", "welding", 300, ["cut"]),
            op(3, "paint", "painting", 180, ["weld"], resumable=False),
        ],
    )
    network = Network([weld, laser, paint])
    result = planning.plan([job], network, now=NOW, time_limit=0.05)
    cut, weld_op, paint_op = (result.assignments[k] for k in (1, 2, 3))
    assert (cut.start, cut.end) == (NOW, NOW + timedelta(hours=1))
    assert (weld_op.start, weld_op.end) == (NOW + timedelta(hours=1), NOW + timedelta(hours=8))
    assert (paint_op.start, paint_op.end) == (NOW + timedelta(hours=24), NOW + timedelta(hours=27))


def test_work_beyond_the_calendars_is_refused_with_a_reason() -> None:
    morning = [(NOW, NOW + timedelta(hours=2))]
    oven = PlanMachine("metal", "paint-1", [{"process": "painting"}], calendar=morning)
    job = PlanJob("ord-5", [op(1, "paint", "painting", 180, resumable=False)])
    with pytest.raises(planning.PlanningError, match="open periods"):
        planning.plan([job], Network([oven]), now=NOW, time_limit=0.05)


def test_each_machine_runs_for_its_own_duration() -> None:
    # One hour of nominal welding: 78 minutes on the slower TIG cell, so the MIG one is chosen;
    # once the MIG cell is busy, the second job goes to the TIG cell and takes 78 minutes.
    mig = PlanMachine("weld", "weld-1", [{"process": "welding"}], speed_factor=1.0)
    tig = PlanMachine("weld", "weld-2", [{"process": "welding"}], speed_factor=1.3)
    jobs = [PlanJob(f"ord-{k}", [op(k, "weld", "welding", 60)]) for k in (1, 2)]
    result = planning.plan(jobs, Network([mig, tig]), now=NOW, time_limit=0.05)
    lasts = {a.machine: a.end - a.start for a in result.assignments.values()}
    assert lasts == {"weld-1": timedelta(minutes=60), "weld-2": timedelta(minutes=78)}


def test_a_machines_own_time_from_the_family_data_beats_its_speed_factor() -> None:
    # The TIG cell is slow in general (1.3) but quoted 40 minutes for this step: its own time.
    mig = PlanMachine("weld", "weld-1", [{"process": "welding"}], speed_factor=1.0)
    tig = PlanMachine("weld", "weld-2", [{"process": "welding"}], speed_factor=1.3)
    own = {"weld/weld-2": 40 * 60.0}
    job = PlanJob("ord-1", [op(1, "weld", "welding", 60, machine_durations_s=own)])
    assigned = planning.plan([job], Network([mig, tig]), now=NOW, time_limit=0.05).assignments[1]
    assert (assigned.machine, assigned.end - assigned.start) == ("weld-2", timedelta(minutes=40))
    assert planning.true_duration_s(job.operations[0], mig) == 3600


def test_setups_between_colours_are_planned_and_shown() -> None:
    # One booth, two orange and two grey parts: grey after orange costs 45 minutes, orange
    # after grey 30, so the plan paints the greys first and changes colour once.
    booth = PlanMachine("paint", "booth-1", [{"process": "painting"}])
    rules = {"grey": {"*": 30 * 60.0, "orange": 45 * 60.0}, "orange": {"*": 30 * 60.0}}
    jobs = [
        PlanJob(
            f"ord-{k}",
            [op(k, "paint", "painting", 20, setup_family=colour, setup_s=rules[colour])],
        )
        for k, colour in enumerate(("orange", "grey", "orange", "grey"))
    ]
    result = planning.plan(jobs, Network([booth]), now=NOW, time_limit=0.1)
    order = sorted(result.assignments.values(), key=lambda a: a.start)
    assert [a.setup_start is not None for a in order] == [False, False, True, False]
    change = order[2]
    assert change.setup_start is not None and change.start - change.setup_start == timedelta(
        minutes=30
    )
    assert result.makespan_s == (4 * 20 + 30) * 60


def test_operators_of_a_plant_attend_its_machines_one_at_a_time() -> None:
    # Two welding cells in one plant, one welder on shift from 09:00: the welds wait for her
    # and follow each other; a plant without welders (another unit) cannot borrow her.
    cells = [PlanMachine("weld", f"weld-{k}", [{"process": "welding"}]) for k in (1, 2)]
    ada = planning.PlanOperator(
        "weld",
        "ada",
        frozenset({"welding"}),
        [(NOW + timedelta(hours=1), NOW + timedelta(hours=9))],
    )
    jobs = [PlanJob(f"ord-{k}", [op(k, "weld", "welding", 60, skill="welding")]) for k in (1, 2)]
    result = planning.plan(jobs, Network(cells, operators=[ada]), now=NOW, time_limit=0.1)
    welds = sorted(result.assignments.values(), key=lambda a: a.start)
    assert [a.operator for a in welds] == ["ada", "ada"]
    assert welds[0].start == NOW + timedelta(hours=1) and welds[1].start >= welds[0].end
    # Without any operator known, skills are not planned.
    free = planning.plan(jobs, Network(cells), now=NOW, time_limit=0.1)
    assert {a.start for a in free.assignments.values()} == {NOW}


def test_a_running_operations_operator_is_not_given_other_work() -> None:
    # Ada welds ord-1 on weld-1 (running, 50 minutes left): ord-2's weld on the free weld-2
    # waits for her at the re-plan, and the running weld keeps naming her.
    cells = [PlanMachine("weld", f"weld-{k}", [{"process": "welding"}]) for k in (1, 2)]
    ada = planning.PlanOperator("weld", "ada", frozenset({"welding"}))
    running = op(
        1,
        "weld",
        "welding",
        90,
        skill="welding",
        frozen_on="weld/weld-1",
        remaining_s=50 * 60,
        frozen_operator="ada",
    )
    jobs = [
        PlanJob("ord-1", [running]),
        PlanJob("ord-2", [op(2, "weld", "welding", 60, skill="welding")]),
    ]
    result = planning.plan(jobs, Network(cells, operators=[ada]), now=NOW, time_limit=0.1)
    first, second = result.assignments[1], result.assignments[2]
    assert (first.machine, first.operator, first.end) == (
        "weld-1",
        "ada",
        NOW + timedelta(minutes=50),
    )
    assert second.operator == "ada" and second.start >= first.end


def test_a_dispatched_colour_change_keeps_its_painter() -> None:
    # Booth 1 has a dispatched orange part whose 30-minute colour change is still ahead; Ada
    # cleans the booth for it (setup only). Booth 2's grey part needs her for its own change
    # (after a running orange part, 10 minutes left): she comes once booth 1 is changed over.
    booths = [PlanMachine("paint", f"booth-{k}", [{"process": "painting"}]) for k in (1, 2)]
    ada = planning.PlanOperator("paint", "ada", frozenset({"painting"}))
    rules = {"orange": {"*": 30 * 60.0}, "grey": {"*": 30 * 60.0}}

    def paint(key: int, colour: str, **extra: object) -> PlanOperation:
        return op(
            key,
            "paint",
            "painting",
            20,
            setup_family=colour,
            setup_s=rules[colour],
            skill="painting",
            attended="setup",
            **extra,
        )

    dispatched = paint(
        1, "orange", frozen_on="paint/booth-1", remaining_s=20 * 60, setup_left_s=30 * 60
    )
    running = paint(2, "orange", frozen_on="paint/booth-2", remaining_s=10 * 60)
    dispatched, running = (replace(o, frozen_operator="ada") for o in (dispatched, running))
    jobs = [
        PlanJob("ord-1", [dispatched]),
        PlanJob("ord-2", [running]),
        PlanJob("ord-3", [paint(3, "grey")]),
    ]
    result = planning.plan(jobs, Network(booths, operators=[ada]), now=NOW, time_limit=0.1)
    first, grey = result.assignments[1], result.assignments[3]
    assert (first.setup_start, first.start, first.end, first.operator) == (
        NOW,
        NOW + timedelta(minutes=30),
        NOW + timedelta(minutes=50),
        "ada",
    )
    assert (grey.machine, grey.operator) == ("booth-2", "ada")
    assert grey.setup_start == NOW + timedelta(minutes=30)
    # Had the dispatched change-over been forgotten, she would have started booth 2's at 10.
    forgotten = [PlanJob("ord-1", [replace(dispatched, setup_left_s=0.0)]), *jobs[1:]]
    result = planning.plan(forgotten, Network(booths, operators=[ada]), now=NOW, time_limit=0.1)
    assert result.assignments[3].setup_start == NOW + timedelta(minutes=10)
