"""The maintenance API: who may read and change what, and clear 4xx answers for bad input."""

from __future__ import annotations

from typing import Any

import pytest

from cloud.auth.models import Actor, Role
from cloud.database import transaction
from cloud.maintenance.tickets import flows as ticket_flows
from cloud.maintenance.tickets.models import MaintenanceTicket
from cloud.maintenance.views import visible_to
from tests.cloud.maintenance.conftest import Harness, alarm

API = "/api/maintenance"


@pytest.fixture
def two_tickets(harness: Harness) -> Harness:
    """Ticket 1: laser-1 of cut-co (Tina). Ticket 2: ACME's robot cell at weld-co (Marco)."""
    harness.ingest(alarm("laser-1"))
    harness.ingest(alarm("cell-7", unit="weld-co", seq=2))
    return harness


def ids(response) -> list[int]:
    assert response.status_code == 200, response.text
    return sorted(t["id"] for t in response.json())


def test_each_role_sees_only_its_own_tickets(two_tickets):
    client, who = two_tickets.client, two_tickets.seeded.headers
    assert ids(client.get(f"{API}/tickets", headers=who("coordinator"))) == [1, 2]
    assert ids(client.get(f"{API}/tickets", headers=who("cut-co"))) == [1]
    assert ids(client.get(f"{API}/tickets", headers=who("weld-co"))) == [2]
    assert ids(client.get(f"{API}/tickets", headers=who("tina"))) == [1]
    assert ids(client.get(f"{API}/tickets", headers=who("marco"))) == [2]
    assert ids(client.get(f"{API}/tickets", headers=who("acme"))) == [2]
    assert ids(client.get(f"{API}/tickets", headers=who("globex"))) == []
    for name, hidden in [("tina", 2), ("marco", 1), ("acme", 1), ("globex", 2), ("cut-co", 2)]:
        response = client.get(f"{API}/tickets/{hidden}", headers=who(name))
        assert response.status_code == 404, name
        assert response.json()["error"] == "not_found"


def test_a_technician_cannot_change_a_ticket_not_assigned_to_them(two_tickets):
    client, who = two_tickets.client, two_tickets.seeded.headers
    for action in ("acknowledge", "start", "resolve", "notes", "parts"):
        body = {"text": "x"} if action == "notes" else ([] if action == "parts" else None)
        response = client.post(f"{API}/tickets/2/{action}", headers=who("tina"), json=body)
        assert response.status_code == 404, action
    assert client.get(f"{API}/tickets/2", headers=who("marco")).json()["status"] == "assigned"
    response = client.post(f"{API}/tickets/1/acknowledge", headers=who("tina"))
    assert response.status_code == 200 and response.json()["status"] == "acknowledged"


def test_customers_read_but_do_not_work_tickets(two_tickets):
    client, who = two_tickets.client, two_tickets.seeded.headers
    detail = client.get(f"{API}/tickets/2", headers=who("acme")).json()
    assert detail["customer_id"] == "acme" and detail["priority"] == "P1"
    assert client.post(f"{API}/tickets/2/resolve", headers=who("acme")).status_code == 403
    assert client.post(f"{API}/tickets/2/close", headers=who("acme")).status_code == 403
    note = client.post(f"{API}/tickets/2/notes", headers=who("acme"), json={"text": "urgent"})
    assert note.status_code == 201
    notes = [e for e in note.json()["timeline"] if e["kind"] == "note"]
    assert [(e["actor"], e["detail"]) for e in notes] == [("customer ACME", "urgent")]


def test_the_full_lifecycle_through_the_api(two_tickets):
    client, who = two_tickets.client, two_tickets.seeded.headers
    for action in ("acknowledge", "start"):
        assert client.post(f"{API}/tickets/1/{action}", headers=who("tina")).status_code == 200
    resolved = client.post(
        f"{API}/tickets/1/resolve",
        headers=who("tina"),
        json={"note": "new fan", "parts_used": [{"part": "fan", "quantity": 2}]},
    ).json()
    assert resolved["status"] == "resolved" and resolved["repair_minutes"] is not None
    assert client.post(f"{API}/tickets/1/close", headers=who("weld-co")).status_code == 404
    closed = client.post(f"{API}/tickets/1/close", headers=who("cut-co")).json()
    assert closed["status"] == "closed"
    again = client.post(f"{API}/tickets/1/acknowledge", headers=who("tina"))
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    detail = client.get(f"{API}/tickets/1", headers=who("coordinator")).json()
    kinds = [e["kind"] for e in detail["timeline"]]
    for kind in ("opened", "assigned", "acknowledged", "in_progress", "resolved", "closed"):
        assert kind in kinds
    # The technician's alert, then the acknowledgement and the repair for the gateway.
    notifications = [(n["channel"], n["action"]) for n in detail["notifications"]]
    assert notifications == [("mqtt", "new"), ("command", "acknowledge"), ("command", "repair")]


def test_the_coordinator_overrides_the_assignment(two_tickets):
    client, who = two_tickets.client, two_tickets.seeded.headers
    body = {"technician_id": "marco"}
    assert (
        client.post(f"{API}/tickets/1/assign", headers=who("cut-co"), json=body).status_code == 403
    )
    moved = client.post(f"{API}/tickets/1/assign", headers=who("coordinator"), json=body).json()
    assert moved["assignee_id"] == "marco"
    assert ids(client.get(f"{API}/tickets", headers=who("tina"))) == []
    unknown = client.post(
        f"{API}/tickets/1/assign", headers=who("coordinator"), json={"technician_id": "nobody"}
    )
    assert unknown.status_code == 422


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("silences", {"matchers": ["unit~~x"], "ends_at": "2030-01-01T00:00:00Z"}),
        ("silences", {"matchers": ['asset=~"("'], "ends_at": "2030-01-01T00:00:00Z"}),
        ("silences", {"matchers": ['asset=~"(?!x)"'], "ends_at": "2030-01-01T00:00:00Z"}),
        ("silences", {"matchers": ['asset=~"(a)\\1"'], "ends_at": "2030-01-01T00:00:00Z"}),
        ("silences", {"matchers": [f'asset=~"{"a" * 257}"'], "ends_at": "2030-01-01T00:00:00Z"}),
        ("silences", {"matchers": ["unit=a"], "ends_at": "2001-01-01T00:00:00Z"}),
        ("silences", {"matchers": ["unit=a"], "ends_at": "2030-01-01T00:00:00"}),
        ("silences", {"matchers": [], "ends_at": "2030-01-01T00:00:00Z"}),
        ("plans", {"title": "x", "model": "PB-100"}),
        ("plans", {"title": "x", "asset": "laser-1", "interval_days": 3}),
        ("plans", {"title": "x", "model": "PB-100", "interval_days": -1}),
        (
            "windows",
            {
                "unit_id": "cut-co",
                "asset": "laser-1",
                "reason": "x",
                "starts_at": "2030-01-02T00:00:00Z",
                "ends_at": "2030-01-01T00:00:00Z",
            },
        ),
        ("webhooks", {"url": "not a url"}),
        ("tickets", {"unit_id": "cut-co", "asset": "laser-1", "title": "", "severity": 5}),
        ("tickets", {"unit_id": "cut-co", "asset": "laser-1", "title": "x", "severity": 5000}),
        ("tickets", {"unit_id": "nowhere", "asset": "laser-1", "title": "x"}),
    ],
)
def test_bad_input_is_a_clear_4xx(seeded, client, path, body):
    response = client.post(f"{API}/{path}", headers=seeded.headers("coordinator"), json=body)
    assert response.status_code in (404, 422), response.text
    assert response.json()["message"]


def test_bad_paths_and_queries_are_4xx(seeded, client):
    who = seeded.headers("coordinator")
    assert client.get(f"{API}/tickets/abc", headers=who).status_code == 422
    assert client.get(f"{API}/tickets/{2**63}", headers=who).status_code == 422
    assert client.delete(f"{API}/plans/0", headers=who).status_code == 422
    assert client.get(f"{API}/tickets?status=bogus", headers=who).status_code == 422
    assert client.get(f"{API}/tickets/99", headers=who).status_code == 404
    assert client.post(f"{API}/tickets/99/resolve", headers=who).status_code == 404
    assert client.get(f"{API}/figures?days=0", headers=who).status_code == 422
    assert client.get(f"{API}/figures?asset=laser-1", headers=who).status_code == 422
    assert client.delete(f"{API}/silences/99", headers=who).status_code == 404
    assert client.get(f"{API}/tickets").status_code == 401


def test_role_limits_on_routing_and_configuration(seeded, client):
    who = seeded.headers
    assert client.get(f"{API}/alerts", headers=who("tina")).status_code == 403
    assert client.get(f"{API}/silences", headers=who("acme")).status_code == 403
    assert (
        client.post(
            f"{API}/webhooks", headers=who("cut-co"), json={"url": "http://x.example/h"}
        ).status_code
        == 403
    )
    assert client.get(f"{API}/notifications", headers=who("cut-co")).status_code == 403
    other = {
        "unit_id": "weld-co",
        "asset": "weld-1",
        "reason": "x",
        "starts_at": "2030-01-01T00:00:00Z",
        "ends_at": "2030-01-02T00:00:00Z",
    }
    assert client.post(f"{API}/windows", headers=who("cut-co"), json=other).status_code == 404
    assert client.get(f"{API}/figures?unit_id=weld-co", headers=who("cut-co")).status_code == 404
    assert client.get(f"{API}/figures", headers=who("acme")).status_code == 403


def test_a_plant_silence_is_confined_to_its_unit(seeded, client):
    who = seeded.headers
    body = {"matchers": ['code="overheat"'], "ends_at": "2030-01-01T00:00:00Z"}
    created = client.post(f"{API}/silences", headers=who("cut-co"), json=body).json()
    assert created["matchers"] == ['unit="cut-co"', 'code="overheat"'] and created["active"]
    assert client.get(f"{API}/silences", headers=who("weld-co")).json() == []
    gone = client.delete(f"{API}/silences/{created['id']}", headers=who("weld-co"))
    assert gone.status_code == 404
    expired = client.delete(f"{API}/silences/{created['id']}", headers=who("cut-co")).json()
    assert not expired["active"]
    assert client.get(f"{API}/silences", headers=who("cut-co")).json() == []


def test_a_window_creates_a_silence_and_is_listed_for_the_scheduler(seeded, client):
    who = seeded.headers("cut-co")
    window = {
        "unit_id": "cut-co",
        "asset": "laser-1",
        "reason": "lens swap",
        "starts_at": "2030-01-01T08:00:00Z",
        "ends_at": "2030-01-01T12:00:00Z",
    }
    assert client.post(f"{API}/windows", headers=who, json=window).status_code == 201
    silences = client.get(f"{API}/silences", headers=who).json()
    assert silences[0]["matchers"] == ['unit="cut-co"', 'asset="laser-1"']
    assert silences[0]["window_id"] == 1


def test_figures_are_scoped_and_the_comparison_is_anonymised(two_tickets):
    client, who = two_tickets.client, two_tickets.seeded.headers
    for seq, (asset, unit) in enumerate([("laser-1", "cut-co"), ("cell-7", "weld-co")], start=3):
        two_tickets.ingest(alarm(asset, "breakdown", unit=unit, severity=1000, seq=seq))
    client.post(f"{API}/tickets/1/resolve", headers=who("tina"))
    mine = client.get(f"{API}/figures", headers=who("cut-co")).json()
    assert mine["scope"] == "cut-co" and mine["failures"] == 1
    assert mine["mttr_minutes"] is not None
    network = client.get(f"{API}/figures", headers=who("coordinator")).json()
    assert network["failures"] == 2 and network["tickets"] == 2
    rows = client.get(f"{API}/figures/comparison", headers=who("weld-co")).json()
    assert [r["member"] for r in rows] == ["member 1", "member 2"]
    assert [r["is_you"] for r in rows].count(True) == 1
    assert "cut-co" not in str(rows) and "weld-co" not in str(rows)


def test_a_warning_is_not_a_failure_until_its_asset_breaks_down(harness: Harness) -> None:
    client, who = harness.client, harness.seeded.headers("coordinator")

    def figures() -> dict[str, Any]:
        response = client.get(f"{API}/figures?unit_id=cut-co&asset=laser-1", headers=who)
        assert response.status_code == 200, response.text
        return dict(response.json())

    harness.ingest(alarm("laser-1", "overheat", severity=700))
    warned = figures()
    assert (warned["tickets"], warned["failures"], warned["availability"]) == (1, 0, 1.0)
    assert warned["mtbf_hours"] is None and warned["mttr_minutes"] is None

    harness.clock.advance(minutes=20)
    harness.ingest(alarm("laser-1", "breakdown", severity=1000, seq=2))
    ticket = client.get(f"{API}/tickets/1", headers=who).json()
    assert ticket["broke_down_at"] is not None and ticket["failed_at"] < ticket["broke_down_at"]
    assert "breakdown" in [line["kind"] for line in ticket["timeline"]]
    down = figures()
    assert down["tickets"] == 1 and down["failures"] == 1
    assert down["availability"] < 1.0  # down since the breakdown, and still down

    with transaction(harness.session_factory) as session:  # on the test's clock, not the API's
        ticket = session.get_one(MaintenanceTicket, 1)
        ticket_flows.resolve(session, ticket, harness.clock.advance(minutes=45), "tina")
    repaired = figures()
    # Repair time runs from the breakdown, not from the warning 20 minutes before it.
    assert repaired["mttr_minutes"] == 45.0 and repaired["failures"] == 1
    assert down["availability"] < repaired["availability"] < 1.0


def test_a_plant_opens_a_ticket_by_hand_for_its_own_assets_only(seeded, client):
    who = seeded.headers
    spec = {"unit_id": "cut-co", "asset": "press-1", "title": "Oil leak", "severity": 650}
    created = client.post(f"{API}/tickets", headers=who("cut-co"), json=spec)
    assert created.status_code == 201
    assert created.json()["assignee_id"] == "tina" and created.json()["priority"] == "P2"
    other = {**spec, "unit_id": "weld-co", "asset": "weld-1"}
    assert client.post(f"{API}/tickets", headers=who("cut-co"), json=other).status_code == 403
    assert client.post(f"{API}/tickets", headers=who("tina"), json=spec).status_code == 403


def test_the_live_stream_shows_each_caller_only_their_tickets():
    event = {
        "type": "maintenance",
        "unit_id": "cut-co",
        "technician_id": "tina",
        "customer_id": None,
    }
    product = {**event, "unit_id": "weld-co", "technician_id": "marco", "customer_id": "acme"}
    actors = {
        "coordinator": Actor(1, "c", Role.COORDINATOR),
        "cut-co": Actor(2, "p", Role.PLANT, unit_id="cut-co"),
        "tina": Actor(3, "t", Role.TECHNICIAN, technician_id="tina"),
        "marco": Actor(4, "m", Role.TECHNICIAN, technician_id="marco"),
        "acme": Actor(5, "a", Role.CUSTOMER, customer_id="acme"),
    }
    seen = {
        name: (visible_to(actor)(event), visible_to(actor)(product))
        for name, actor in actors.items()
    }
    assert seen == {
        "coordinator": (True, True),
        "cut-co": (True, False),
        "tina": (True, False),
        "marco": (False, True),
        "acme": (False, True),
    }
    assert not visible_to(actors["coordinator"])({"type": "telemetry", "unit_id": "cut-co"})
