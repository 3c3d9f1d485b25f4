"""Technician routes in the coordinator: a new ticket joins a route with the reason on its
timeline, a visit running long is re-planned by the worker, and each technician sees their own
day (the coordinator everyone's)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import select

from cloud.auth.dependencies import SESSION_COOKIE
from cloud.auth.models import Actor, Role
from cloud.database import transaction
from cloud.maintenance.tickets import assigning, flows
from cloud.maintenance.tickets.models import MaintenanceTicket, TicketEvent
from cloud.maintenance.visits.models import RouteStop
from cloud.registry.models import Technician
from tests.cloud.maintenance.conftest import WEEKDAYS, Harness, alarm

COORDINATOR = Actor(principal_id=0, name="Coordinator", role=Role.COORDINATOR)
QUIET = {
    "remind_every_minutes": 600,
    "escalate_after_minutes": 600,
    "coordinator_after_minutes": 600,
}


def call(h: Harness, method: str, path: str, who: str | None, **kwargs: Any) -> httpx.Response:
    headers = h.seeded.headers(who) if who else {}
    return h.client.request(method, path, headers=headers, **kwargs)


def stops(h: Harness) -> dict[int, RouteStop]:
    with h.session() as session:
        return {s.ticket_id: s for s in session.scalars(select(RouteStop))}


def assigned_reasons(h: Harness, ticket_id: int) -> list[str]:
    with h.session() as session:
        query = select(TicketEvent).where(
            TicketEvent.ticket_id == ticket_id, TicketEvent.kind == "assigned"
        )
        return [e.detail for e in session.scalars(query.order_by(TicketEvent.id))]


def test_a_new_ticket_joins_a_route_and_the_technician_sees_the_next_visit(harness):
    harness.ingest(alarm("laser-1"))
    [reason] = assigned_reasons(harness, 1)
    assert reason.startswith("tina (route: visit 1 of 1 on ")
    assert "min drive" in reason and "on time" in reason
    [stop] = stops(harness).values()
    assert (stop.technician_id, stop.site, stop.came_from) == ("tina", "cut-co", "home")
    assert stop.arrive_at == harness.clock.now + timedelta(minutes=stop.travel_minutes)
    assert stop.end_at - stop.start_at == timedelta(minutes=90)  # a corrective visit

    day = call(harness, "GET", "/api/maintenance/technicians/tina/day", "tina").json()
    assert day["next"] == f"next: cut-co at {stop.arrive_at:%H:%M}, {stop.travel_minutes} min drive"
    assert [s["ticket_id"] for s in day["stops"]] == [1] and day["later"] == 0


def test_each_technician_sees_only_their_own_day(harness):
    harness.ingest(alarm("laser-1"), alarm("weld-1", unit="weld-co", seq=2))
    path = "/api/maintenance/technicians/{}/day"
    assert call(harness, "GET", path.format("tina"), "tina").status_code == 200
    assert call(harness, "GET", path.format("marco"), "tina").status_code == 404
    for who in ("tina", "marco"):
        answer = call(harness, "GET", path.format(who), "coordinator")
        assert answer.status_code == 200 and answer.json()["stops"]
    assert call(harness, "GET", path.format("nobody"), "coordinator").status_code == 404
    assert call(harness, "GET", path.format("tina"), "cut-co").status_code == 403
    assert call(harness, "GET", path.format("tina"), "acme").status_code == 403
    assert call(harness, "GET", path.format("tina"), None).status_code == 401


def test_a_visit_running_long_moves_the_waiting_ticket_to_a_free_technician(harness):
    with transaction(harness.session_factory) as session:
        session.add(  # 40 km from the plant: free, but farther than tina
            Technician(
                id="luca",
                name="Luca",
                employer_unit_id="cut-co",
                skills=["mechanical"],
                home_latitude=45.43,
                home_longitude=7.69,
                working_hours=WEEKDAYS,
            )
        )
    worker = harness.worker(visit_overrun_minutes=120, **QUIET)
    harness.ingest(alarm("laser-1"))
    with transaction(harness.session_factory) as session:
        laser = session.get(MaintenanceTicket, 1)
        flows.start_work(session, laser, harness.clock.now, "technician tina")
    harness.clock.advance(minutes=1)
    harness.ingest(alarm("press-1", seq=2))
    with transaction(harness.session_factory) as session:
        press = session.get(MaintenanceTicket, 2)
        assert press.assignee_id == "tina"  # on the same site, right after the laser
        press.due_at = harness.clock.now + timedelta(minutes=150)
    worker.run_once()
    assert stops(harness)[1].in_progress
    assert stops(harness)[2].technician_id == "tina"

    harness.clock.advance(minutes=90)  # the laser's visit should have ended by now
    worker.run_once()
    with harness.session() as session:
        assert session.get(MaintenanceTicket, 2).assignee_id == "luca"
    moved = assigned_reasons(harness, 2)[-1]
    assert moved.startswith("luca (route: ") and "tina's visit runs long" in moved
    planned = stops(harness)
    assert planned[1].end_at == harness.clock.now + timedelta(minutes=120)
    assert planned[2].technician_id == "luca"

    worker.run_once()  # nothing new: no second re-plan, no second move
    assert len(assigned_reasons(harness, 2)) == 2


def test_a_resolved_visit_leaves_the_route_at_the_next_round(harness):
    worker = harness.worker(**QUIET)
    harness.ingest(alarm("laser-1"))
    call(harness, "POST", "/api/maintenance/tickets/1/resolve", "tina", json={})
    assert (
        call(harness, "GET", "/api/maintenance/technicians/tina/day", "tina").json()["stops"] == []
    )
    worker.run_once()
    assert stops(harness) == {}


def test_the_inbox_page_shows_the_technicians_day(harness):
    harness.ingest(alarm("laser-1"), alarm("weld-1", unit="weld-co", seq=2))
    [stop] = [s for s in stops(harness).values() if s.technician_id == "tina"]

    def page(who: str) -> str:
        harness.client.cookies.set(SESSION_COOKIE, harness.seeded.keys[who])
        answer = harness.client.get("/maintenance/inbox")
        harness.client.cookies.clear()
        assert answer.status_code == 200
        return answer.text

    mine = page("tina")
    assert f"next: cut-co at {stop.arrive_at:%H:%M}, {stop.travel_minutes} min drive" in mine
    assert 'data-technician="marco"' not in mine
    everyone = page("coordinator")
    assert 'data-technician="tina"' in everyone and 'data-technician="marco"' in everyone


def test_a_started_visit_is_marked_in_progress_at_the_next_round(harness):
    worker = harness.worker(**QUIET)
    harness.ingest(alarm("laser-1"))
    worker.run_once()
    assert not stops(harness)[1].in_progress
    with transaction(harness.session_factory) as session:
        flows.start_work(
            session, session.get(MaintenanceTicket, 1), harness.clock.now, "technician tina"
        )
    worker.run_once()
    stop = stops(harness)[1]
    assert stop.in_progress and stop.end_at == harness.clock.now + timedelta(minutes=90)


def test_an_assigned_ticket_no_route_can_hold_keeps_its_reason_and_is_not_replanned_each_round(
    harness,
):
    worker = harness.worker(**QUIET)
    harness.ingest(alarm("laser-1", "emergency_stop"))  # electrical: tina
    with transaction(harness.session_factory) as session:
        assigning.override_assignment(
            session, actor=COORDINATOR, ticket_id=1, technician_id="marco", now=harness.clock.now
        )
    worker.run_once()
    [stop] = stops(harness).values()
    assert stop.technician_id == "marco" and "marco: lacks skill 'electrical'" in stop.unplanned
    day = call(harness, "GET", "/api/maintenance/technicians/marco/day", "marco").json()
    assert day["stops"] == [] and day["unplanned"][0]["ticket_id"] == 1
    planned_at = stop.planned_at
    harness.clock.advance(minutes=1)
    worker.run_once()
    assert stops(harness)[1].planned_at == planned_at  # nothing changed: no re-plan


def test_a_ticket_on_friday_evening_is_planned_for_monday(harness):
    harness.clock.now += timedelta(days=4, hours=8, minutes=30)  # Friday 17:30, after hours
    harness.ingest(alarm("laser-1"))
    [stop] = stops(harness).values()
    assert stop.technician_id == "tina" and stop.arrive_at.weekday() == 0
    assert stop.arrive_at.hour == 7  # from home at the start of Monday's hours


def test_two_visits_in_progress_at_once_are_both_on_the_route(harness):
    worker = harness.worker(**QUIET)
    harness.ingest(alarm("laser-1"), alarm("press-1", seq=2))
    with transaction(harness.session_factory) as session:
        for ticket_id in (1, 2):
            ticket = session.get(MaintenanceTicket, ticket_id)
            flows.start_work(session, ticket, harness.clock.now, "technician tina")
    worker.run_once()
    planned = stops(harness)
    assert planned[1].in_progress and planned[2].in_progress
    harness.clock.advance(minutes=1)
    worker.run_once()
    assert stops(harness)[1].planned_at == planned[1].planned_at  # settled: no re-plan
