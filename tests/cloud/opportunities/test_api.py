"""Opportunities through the HTTP API: from a configured revision or a call for tenders, the
life cycle with its audit trail, who sees what, and bad input answered with a clear 4xx."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloud.config import Settings
from tests.cloud.orders.network import ROBOT_CELL, auth, served


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with served(settings) as served_api:
        yield served_api


def _due(days: float = 30) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


SITE = {"name": "Bologna depot", "latitude": 44.49, "longitude": 11.34, "country": "IT"}


def tender(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "title": "Brackets for the city tram",
        "due_at": _due(),
        "site": SITE,
        "budget": 12_000,
        "currency": "EUR",
        "customer_id": "city-of-bologna",
        "local_content": {"min_share": 0.3, "within_km": 50},
        "processes": [
            {
                "process": "welding",
                "requirements": {"max_thickness_mm": 12},
                "certifications": ["ISO3834"],
                "quantity": 200,
                "work_minutes": 600,
            },
            {"process": "painting", "quantity": 200, "work_minutes": 300},
        ],
    }
    body.update(fields)
    return body


def test_an_opportunity_from_a_configured_revision_takes_its_work_breakdown(api: Any) -> None:
    client, keys = api
    configuration = client.post(
        "/api/configurations",
        json={"family_id": "robotic-cell", "values": ROBOT_CELL},
        headers=auth(keys, "alice"),
    ).json()
    quote = client.post(
        "/api/quotes", json={"configuration_id": configuration["id"]}, headers=auth(keys, "alice")
    ).json()
    body = {
        "title": "Robotic cell for Alice",
        "configuration_id": configuration["id"],
        "quantity": 2,
        "due_at": _due(),
        "site": SITE,
    }
    response = client.post("/api/opportunities", json=body, headers=auth(keys, "coordinator"))
    assert response.status_code == 201, response.text
    opportunity = response.json()
    assert opportunity["source"] == "configuration" and opportunity["status"] == "open"
    assert opportunity["customer_id"] == "alice" and opportunity["revision"] == 1
    assert opportunity["family_id"] == "robotic-cell"
    assert opportunity["budget"] == pytest.approx(2 * quote["price"])
    assert opportunity["currency"] == quote["currency"]
    quoted = quote["work"]["operations"]
    processes = opportunity["processes"]
    assert [p["step"] for p in processes] == [op["step"] for op in quoted]
    for process, op in zip(processes, quoted, strict=True):
        assert process["process"] == op["process"]
        assert process["requirements"] == op["requirements"]
        assert process["certifications"] == op["certifications"]
        assert process["predecessors"] == op["predecessors"]
        assert process["quantity"] == 2
        assert process["work_minutes"] == pytest.approx(2 * op["duration_s"] / 60)
    assert [e["to_status"] for e in opportunity["events"]] == ["open"]

    # The customer sees its own, not another's; a plant or technician none.
    own = client.get(f"/api/opportunities/{opportunity['id']}", headers=auth(keys, "alice"))
    assert own.status_code == 200 and own.json()["title"] == "Robotic cell for Alice"
    assert client.get("/api/opportunities", headers=auth(keys, "bob")).json() == []
    other = client.get(f"/api/opportunities/{opportunity['id']}", headers=auth(keys, "bob"))
    assert other.status_code == 404
    assert client.get("/api/opportunities", headers=auth(keys, "metal")).status_code == 403
    # A customer may not enter one, even for itself.
    assert (
        client.post("/api/opportunities", json=body, headers=auth(keys, "alice")).status_code == 403
    )

    # The configuration must be a known one, and its opportunity is its own customer's.
    unknown = client.post(
        "/api/opportunities",
        json={**body, "configuration_id": "cfg-nope"},
        headers=auth(keys, "coordinator"),
    )
    assert unknown.status_code == 404 and "cfg-nope" in unknown.json()["message"]
    foreign = client.post(
        "/api/opportunities",
        json={**body, "customer_id": "bob"},
        headers=auth(keys, "coordinator"),
    )
    assert foreign.status_code == 422 and "own customer" in foreign.json()["message"]


def test_the_life_cycle_is_validated_and_leaves_a_trail(api: Any) -> None:
    client, keys = api
    coordinator = auth(keys, "coordinator")
    created = client.post("/api/opportunities", json=tender(), headers=coordinator)
    assert created.status_code == 201, created.text
    opportunity = created.json()
    assert opportunity["source"] == "tender" and opportunity["customer_id"] == "city-of-bologna"
    assert [p["step"] for p in opportunity["processes"]] == ["p1", "p2"]
    assert opportunity["processes"][0]["requirements"] == {"max_thickness_mm": 12}
    assert opportunity["local_content"] == {"min_share": 0.3, "within_km": 50, "country": None}
    assert opportunity["next_statuses"] == ["forming", "lost", "withdrawn"]
    path = f"/api/opportunities/{opportunity['id']}/status"

    illegal = client.post(path, json={"to": "won"}, headers=coordinator)
    assert illegal.status_code == 409
    assert illegal.json()["message"] == (
        f"opportunity {opportunity['id']} is open: it can go to forming, lost or withdrawn, not won"
    )
    for to, note in [("forming", "inviting members"), ("quoted", "q-1"), ("won", "signed")]:
        moved = client.post(path, json={"to": to, "note": note}, headers=coordinator)
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == to
    final = client.post(path, json={"to": "withdrawn"}, headers=coordinator)
    assert final.status_code == 409 and "final" in final.json()["message"]
    trail = client.get(f"/api/opportunities/{opportunity['id']}", headers=coordinator).json()
    assert [(e["from_status"], e["to_status"], e["note"]) for e in trail["events"]] == [
        (None, "open", "created from tender"),
        ("open", "forming", "inviting members"),
        ("forming", "quoted", "q-1"),
        ("quoted", "won", "signed"),
    ]
    assert {e["actor"] for e in trail["events"]} == {"coordinator key"}
    assert trail["next_statuses"] == []

    other = client.post("/api/opportunities", json=tender(title="Second"), headers=coordinator)
    assert other.status_code == 201
    by_status = client.get("/api/opportunities?status=won", headers=coordinator).json()
    assert [o["id"] for o in by_status] == [opportunity["id"]]
    assert len(client.get("/api/opportunities", headers=coordinator).json()) == 2
    unknown_status = client.get("/api/opportunities?status=maybe", headers=coordinator)
    assert unknown_status.status_code == 422
    assert client.post(path, json={"to": "forming"}, headers=auth(keys, "alice")).status_code == 403
    missing = client.post(
        "/api/opportunities/opp-nope/status", json={"to": "forming"}, headers=coordinator
    )
    assert missing.status_code == 404


BAD_INPUT = [
    ({"due_at": "2020-01-01T00:00:00Z"}, "not in the future"),
    ({"due_at": "2030-01-01T00:00:00"}, "time zone"),
    ({"configuration_id": "cfg-1"}, "not both"),
    ({"processes": None}, "either configuration_id"),
    ({"processes": []}, "at least one process"),
    ({"budget": None}, "states its budget"),
    ({"budget": -5}, "greater than 0"),
    ({"site": {**SITE, "latitude": 91}}, "less than or equal to 90"),
    ({"site": {**SITE, "country": "Italy"}}, "pattern"),
    ({"local_content": {"min_share": 0.3}}, "say where local is"),
    ({"local_content": {"min_share": 0.3, "within_km": 5, "country": "IT"}}, "not both"),
    ({"local_content": {"min_share": 1.5, "country": "IT"}}, "less than or equal to 1"),
    ({"processes": [{"process": "juggling", "work_minutes": 5}]}, "process"),
    ({"processes": [{"process": "welding", "work_minutes": 0}]}, "greater than 0"),
    ({"processes": [{"process": "welding"}]}, "work_minutes"),
    (
        {"processes": [{"process": "welding", "work_minutes": 5, "requirements": {"a": "x"}}]},
        "number",
    ),
    ({"currency": "euro"}, "pattern"),
]


def test_bad_input_is_refused_with_a_clear_422(client: TestClient, tenants: Any) -> None:
    """One app for every case; each mismatch is listed when it fails."""
    headers = tenants.headers("coordinator")
    mismatches = []
    for changes, says in BAD_INPUT:
        response = client.post("/api/opportunities", json=tender(**changes), headers=headers)
        if response.status_code != 422 or says not in response.text:
            mismatches.append((changes, response.status_code, response.text[:300]))
    assert mismatches == []
    assert client.get("/api/opportunities", headers=headers).json() == []


def test_a_line_following_a_later_line_is_refused_at_that_lines_field(
    client: TestClient, tenants: Any
) -> None:
    """Each line that follows a later line (or itself) is an error at its own
    ``predecessors``, where a form shows it; all of them in one answer, nothing created."""
    lines = [
        {"process": "welding", "work_minutes": 5},
        {"process": "welding", "work_minutes": 5, "predecessors": ["p3"]},
        {"process": "painting", "work_minutes": 5, "predecessors": ["p1", "p3"]},
    ]
    headers = tenants.headers("coordinator")
    response = client.post("/api/opportunities", json=tender(processes=lines), headers=headers)
    assert response.status_code == 422, response.text
    assert [(f["field"], f["message"]) for f in response.json()["fields"]] == [
        ("body.processes.1.predecessors", "line p2 can follow only earlier lines (p1), not p3"),
        ("body.processes.2.predecessors", "line p3 can follow only earlier lines (p1, p2), not p3"),
    ]
    assert client.get("/api/opportunities", headers=headers).json() == []
