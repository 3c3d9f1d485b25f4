from datetime import UTC, datetime, time, timedelta

from cloud.maintenance.assignment import (
    Location,
    TechnicianProfile,
    WorkingHours,
    choose_technician,
    distance_km,
    rank_technicians,
    travel_time,
)

MONDAY_9 = datetime(2026, 11, 23, 9, tzinfo=UTC)
ASSET = Location(45.07, 7.69)  # Turin


def tech(id, lat, lon, skills=("mechanical",), load=0, units=(), hours=None):
    return TechnicianProfile(
        id=id,
        skills=frozenset(skills),
        home=Location(lat, lon),
        working_hours=hours or WorkingHours.weekdays(),
        employer_unit="lead",
        service_units=frozenset(units),
        open_tickets=load,
    )


def test_distance_and_travel_time():
    milan = Location(45.46, 9.19)
    assert 120 < distance_km(ASSET, milan) < 130
    assert timedelta(hours=2.5) < travel_time(ASSET, milan) < timedelta(hours=3)


def test_nearest_skilled_technician_wins():
    near = tech("near", 45.1, 7.7)
    far = tech("far", 45.5, 9.2)
    unskilled = tech("unskilled", 45.07, 7.69, skills=("electrical",))
    chosen = choose_technician(
        [far, unskilled, near],
        skill="mechanical",
        asset_unit="u",
        asset_location=ASSET,
        at=MONDAY_9,
    )
    assert chosen is not None and chosen.technician == "near"


def test_load_outweighs_a_short_distance():
    busy = tech("busy", 45.08, 7.69, load=4)
    free = tech("free", 45.2, 7.8)
    ranked = rank_technicians(
        [busy, free], skill="mechanical", asset_unit="u", asset_location=ASSET, at=MONDAY_9
    )
    assert [c.technician for c in ranked] == ["free", "busy"]


def test_exclusions_carry_reasons():
    ranked = rank_technicians(
        [tech("a", 45, 7, skills=("electrical",)), tech("b", 45, 7, units=("other",))],
        skill="mechanical",
        asset_unit="u",
        asset_location=ASSET,
        at=MONDAY_9,
    )
    assert not any(c.eligible for c in ranked)
    assert "lacks skill" in ranked[0].reasons[0] or "lacks skill" in ranked[1].reasons[0]
    assert any("does not serve unit" in c.reasons[0] for c in ranked)


def test_off_shift_technician_arrives_at_next_shift():
    saturday = datetime(2026, 11, 28, 10, tzinfo=UTC)
    chosen = choose_technician(
        [tech("a", 45.07, 7.69)],
        skill="mechanical",
        asset_unit="u",
        asset_location=ASSET,
        at=saturday,
    )
    assert chosen is not None
    assert chosen.arrival is not None and chosen.arrival.date().isoformat() == "2026-11-30"


def test_working_hours_next_available():
    hours = WorkingHours({0: (time(8), time(12))})
    assert hours.next_available(MONDAY_9) == MONDAY_9
    assert hours.next_available(MONDAY_9.replace(hour=13)) == datetime(2026, 11, 30, 8, tzinfo=UTC)
    assert WorkingHours({}).next_available(MONDAY_9) is None
