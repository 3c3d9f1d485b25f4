"""Technician routes: hand-written cases, and a property test over random small instances
(every plan passes the independent validator and costs no more than today's greedy rule)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from cloud.maintenance.assignment import Location, TechnicianProfile, WorkingHours, distance_km
from cloud.maintenance.visits.greedy import greedy_plan
from cloud.maintenance.visits.planner import plan_routes
from cloud.maintenance.visits.problem import RouteProblem, Visit, figures, travel_minutes
from cloud.maintenance.visits.validator import violations

MONDAY = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
LIMIT = timedelta(milliseconds=200)
IMOLA = Location(44.35, 11.71)
HOME = Location(44.36, 11.70)


def tech(
    id: str,
    home: Location = HOME,
    skills: tuple[str, ...] = ("mechanical",),
    hours: tuple[time, time] = (time(7), time(17)),
    **kw,
) -> TechnicianProfile:
    return TechnicianProfile(
        id=id,
        skills=frozenset(skills),
        home=home,
        working_hours=WorkingHours.weekdays(*hours),
        employer_unit="imola-welding",
        **kw,
    )


def visit(id: str, where: Location, due_hours: float, **kw) -> Visit:
    fields = {
        "site": id,
        "unit": "imola-welding",
        "skill": "mechanical",
        "duration_minutes": 60,
        "priority": "P2",
    } | kw
    return Visit(id=id, location=where, due=MONDAY + timedelta(hours=due_hours), **fields)


def solve(problem: RouteProblem):
    plan = plan_routes(problem, time_limit=LIMIT, start_from=greedy_plan(problem))
    assert violations(problem, plan) == []
    return plan


def at_km_east(origin: Location, km: float) -> Location:
    return Location(origin.lat, origin.lon + km / (111.32 * 0.7145))  # cos(44.4°)


def test_a_technician_with_two_sites_60_km_apart_drives_between_them_in_due_order():
    far = at_km_east(IMOLA, 60)
    assert 59.5 < distance_km(IMOLA, far) < 60.5
    # The far site came second but is due first: it is visited first, then the near one.
    problem = RouteProblem(
        visits=[visit("imola-welding", IMOLA, 8), visit("forli-cutting", far, 3)],
        technicians=[tech("tina")],
        now=MONDAY,
    )
    plan = solve(problem)
    first, second = plan.stops_of("tina")
    assert (first.visit, second.visit) == ("forli-cutting", "imola-welding")
    drive = travel_minutes(far, IMOLA)
    assert drive == 78  # 60 km x 1.3 road factor at 60 km/h
    assert second.travel_minutes == drive and second.arrive - first.end == timedelta(minutes=78)
    assert figures(problem, plan).late == 0
    # Today's rule works them in the order they came, and the far one is late.
    baseline = greedy_plan(problem)
    assert violations(problem, baseline) == []
    assert [s.visit for s in baseline.stops_of("tina")] == ["imola-welding", "forli-cutting"]
    assert figures(problem, baseline).late == 1


def test_a_visit_goes_to_the_technician_with_the_skill_even_if_farther():
    problem = RouteProblem(
        visits=[visit("panel", IMOLA, 8, skill="electrical")],
        technicians=[tech("near"), tech("far", home=at_km_east(IMOLA, 40), skills=("electrical",))],
        now=MONDAY,
    )
    assert solve(problem).technician_of("panel") == "far"


def test_working_hours_move_a_visit_that_does_not_fit_today_to_the_next_working_day():
    friday_evening = MONDAY + timedelta(days=4, hours=7)  # Friday 15:00, hours end at 17:00
    site = at_km_east(IMOLA, 60)
    problem = RouteProblem(
        visits=[visit("weld", site, 7 * 24, duration_minutes=90)],
        technicians=[tech("tina")],
        now=friday_evening,
        horizon_days=4,
    )
    plan = solve(problem)
    [route] = plan.routes
    [stop] = route.stops
    assert route.day == 3 and stop.start.weekday() == 0  # Monday, not at the weekend
    drive = timedelta(minutes=travel_minutes(HOME, site))
    assert stop.start == datetime(2026, 12, 7, 7, 0, tzinfo=UTC) + drive


def test_a_visit_nobody_can_serve_is_dropped_with_the_reason():
    problem = RouteProblem(
        visits=[
            visit("hydraulic-press", IMOLA, 8, skill="hydraulics"),
            visit("overhaul", IMOLA, 8, duration_minutes=14 * 60),
            visit("other-network", IMOLA, 8, unit="elsewhere"),
        ],
        technicians=[tech("tina", service_units=frozenset({"imola-welding"}))],
        now=MONDAY,
    )
    plan = solve(problem)
    assert plan.routes == ()
    assert "tina: lacks skill 'hydraulics'" in plan.dropped["hydraulic-press"]
    assert "does not fit in the next 3 working day(s) of tina" in plan.dropped["overhaul"]
    assert "does not serve unit 'elsewhere'" in plan.dropped["other-network"]
    assert figures(problem, plan).misses == 3


def test_a_visit_running_long_moves_the_next_visit_to_a_free_technician():
    waiting = visit("press", IMOLA, 3)
    busy_at = at_km_east(IMOLA, 5)
    team = [tech("tina", current_location=busy_at), tech("marco", home=at_km_east(IMOLA, 30))]
    on_time = RouteProblem(
        [waiting], team, MONDAY, busy_until={"tina": MONDAY + timedelta(hours=1)}
    )
    assert solve(on_time).technician_of("press") == "tina"
    running_long = RouteProblem(
        [waiting], team, MONDAY, busy_until={"tina": MONDAY + timedelta(hours=3)}
    )
    plan = solve(running_long)
    assert plan.technician_of("press") == "marco"
    assert figures(running_long, plan).late == 0


def test_a_pinned_visit_stays_with_its_technician_and_an_escalated_one_leaves():
    problem = RouteProblem(
        visits=[
            visit("acknowledged", IMOLA, 8, technician="marco"),
            visit("escalated", IMOLA, 8, excluded=frozenset({"tina"})),
        ],
        technicians=[tech("tina"), tech("marco", home=at_km_east(IMOLA, 50))],
        now=MONDAY,
    )
    plan = solve(problem)
    assert plan.technician_of("acknowledged") == "marco"
    assert plan.technician_of("escalated") == "marco"


def test_the_validator_catches_a_plan_without_travel_time():
    problem = RouteProblem(
        visits=[visit("a", IMOLA, 8), visit("b", at_km_east(IMOLA, 60), 8)],
        technicians=[tech("tina")],
        now=MONDAY,
    )
    plan = solve(problem)
    route = plan.routes[0]
    first, second = route.stops
    teleported = second.__class__(
        **{
            **second.__dict__,
            "arrive": first.end,
            "start": first.end,
            "end": first.end + timedelta(minutes=60),
        }
    )
    bad = plan.__class__(
        routes=(route.__class__(**{**route.__dict__, "stops": (first, teleported)}),),
        dropped={},
        solver="hand",
    )
    assert any("cannot reach visit" in v for v in violations(problem, bad))


# Random small instances ----------------------------------------------------------------------

SKILLS = ("mechanical", "electrical")


@st.composite
def instances(draw: st.DrawFn) -> RouteProblem:
    def place() -> Location:
        return Location(
            44.0 + draw(st.floats(0, 0.8, allow_nan=False)),
            11.0 + draw(st.floats(0, 1.2, allow_nan=False)),
        )

    technicians = [
        TechnicianProfile(
            id=f"t{i}",
            skills=frozenset(draw(st.sets(st.sampled_from(SKILLS), min_size=1))),
            home=place(),
            working_hours=WorkingHours.weekdays(
                time(draw(st.integers(6, 9))), time(draw(st.integers(13, 19)))
            ),
            employer_unit="u",
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    visits = [
        Visit(
            id=f"v{i}",
            site=f"s{i}",
            unit="u",
            location=place(),
            skill=draw(st.sampled_from(SKILLS)),
            duration_minutes=draw(st.integers(20, 150)),
            due=MONDAY + timedelta(minutes=draw(st.integers(-60, 8 * 24 * 60))),
            priority=draw(st.sampled_from(("P1", "P2", "P3", "P4"))),
        )
        for i in range(draw(st.integers(1, 7)))
    ]
    now = MONDAY + timedelta(minutes=draw(st.integers(0, 7 * 24 * 60)))  # weekends too
    return RouteProblem(visits, technicians, now, horizon_days=draw(st.integers(1, 3)))


@settings(max_examples=30, deadline=None)
@given(instances())
def test_every_plan_is_valid_and_no_worse_than_the_greedy_rule(problem):
    baseline = greedy_plan(problem)
    assert violations(problem, baseline) == []
    plan = plan_routes(problem, time_limit=timedelta(milliseconds=50), start_from=baseline)
    assert violations(problem, plan) == []
    ours, theirs = figures(problem, plan), figures(problem, baseline)
    # The objective both are judged on: travel minutes + priority-weighted minutes late + a
    # drop penalty per visit not served (more than any travel or lateness can save).
    assert ours.cost <= theirs.cost
