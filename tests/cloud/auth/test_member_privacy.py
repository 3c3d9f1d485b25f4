"""No endpoint tells a member whether another member's resource exists: asking for another
member's unit, machine, technician, ticket or configuration gets the same answer (status, code
and message, but for the id) as asking for one that does not exist."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.cloud.conftest import Tenants, make_key

WINDOW = {"starts_at": "2030-01-01T00:00:00Z", "ends_at": "2030-01-01T02:00:00Z", "reason": "r"}

# (caller, method, path, body): "{id}" is another member's resource, then a missing one.
PROBES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("plant-a", "GET", "/api/units/{id}", None),
    ("plant-a", "POST", "/api/units/{id}/mqtt-credentials", None),
    ("plant-a", "POST", "/api/units/{id}/machines", {"machine": "m9", "name": "M"}),
    ("plant-a", "GET", "/api/machines/{id}/m1", None),
    ("plant-a", "PATCH", "/api/machines/{id}/m1", {"name": "x"}),
    ("plant-a", "GET", "/api/machines/{id}/m1/rollups", None),
    ("plant-a", "GET", "/api/machines/{id}/m1/samples", None),
    ("plant-a", "GET", "/api/jobs?unit_id={id}", None),
    ("plant-a", "GET", "/api/maintenance/figures?unit_id={id}", None),
    ("plant-a", "PUT", "/api/maintenance/service-areas/{id}", {"served_units": ["plant-a"]}),
    ("plant-a", "POST", "/api/maintenance/windows", {"unit_id": "{id}", "asset": "m1", **WINDOW}),
    (
        "plant-a",
        "POST",
        "/api/maintenance/tickets",
        {"unit_id": "{id}", "asset": "m1", "title": "t"},
    ),
    ("plant-a", "GET", "/api/technicians/t-{id}", None),
    ("plant-a", "PATCH", "/api/technicians/t-{id}", {"name": "x"}),
    ("plant-a", "DELETE", "/api/technicians/t-{id}", None),
    ("plant-a", "POST", "/api/technicians/t-{id}/mqtt-credentials", None),
    (
        "plant-a",
        "POST",
        "/api/technicians",
        {
            "id": "t-new",
            "name": "N",
            "employer_unit_id": "{id}",
            "home_latitude": 1,
            "home_longitude": 1,
        },
    ),
    ("technician", "GET", "/api/technicians/t-{id}", None),
]


def _answer(response: Any, resource_id: str) -> tuple[int, str, str]:
    body = response.json() if response.content else {}
    message = str(body.get("message", "")).replace(resource_id, "<id>")
    return response.status_code, str(body.get("error")), message


def _ask(client: TestClient, tenants: Tenants, probe: Any, placeholder: str, value: str) -> Any:
    """The probe's answer with ``placeholder`` filled in by ``value``, as compared."""
    who, method, path, body = probe
    filled = body and {
        k: v.replace(placeholder, value) if isinstance(v, str) else v for k, v in body.items()
    }
    response = client.request(
        method, path.replace(placeholder, value), json=filled, headers=tenants.headers(who)
    )
    return _answer(response, value)


@pytest.fixture
def members(client: TestClient, tenants: Tenants) -> Tenants:
    """plant-b with a technician "t-plant-b", next to tenants' plants."""
    response = client.post(
        "/api/technicians",
        json={
            "id": "t-plant-b",
            "name": "B",
            "employer_unit_id": "plant-b",
            "home_latitude": 1,
            "home_longitude": 1,
        },
        headers=tenants.headers("coordinator"),
    )
    assert response.status_code == 201, response.text
    return tenants


@pytest.mark.parametrize("probe", PROBES, ids=lambda p: f"{p[0]} {p[1]} {p[2]}")
def test_another_members_resource_answers_as_a_missing_one(
    client: TestClient, members: Tenants, probe: Any
) -> None:
    other = _ask(client, members, probe, "{id}", "plant-b")
    missing = _ask(client, members, probe, "{id}", "nowhere")
    assert other == missing
    assert other[0] in (403, 404), other


# (caller, method, path, body) on a ticket of plant-b's and a configuration of another customer.
OWNED_PROBES: list[tuple[str, str, str, dict[str, Any] | None]] = [
    ("plant-a", "GET", "/api/maintenance/tickets/{ticket}", None),
    ("plant-a", "POST", "/api/maintenance/tickets/{ticket}/notes", {"text": "hi"}),
    ("technician", "GET", "/api/maintenance/tickets/{ticket}", None),
    ("technician", "POST", "/api/maintenance/tickets/{ticket}/acknowledge", None),
    ("customer", "GET", "/api/configurations/{configuration}", None),
    ("customer", "GET", "/api/configurations/{configuration}/revisions", None),
    (
        "customer",
        "POST",
        "/api/configurations/{configuration}/revisions",
        {"values": {}, "comment": "x"},
    ),
    ("customer", "POST", "/api/quotes", {"configuration_id": "{configuration}"}),
    ("customer", "POST", "/api/configurations/{configuration}/duplicate", None),
]


MISSING = {"ticket": str(2**31 - 1), "configuration": "nowhere"}


@pytest.fixture
def owned(client: TestClient, tenants: Tenants) -> dict[str, str]:
    """A ticket on plant-b's m1, and a configuration of customer cust-2 (known by its key)."""
    coordinator = tenants.headers("coordinator")
    make_key(tenants.context, "customer", customer_id="cust-2")
    ticket = client.post(
        "/api/maintenance/tickets",
        json={"unit_id": "plant-b", "asset": "m1", "title": "worn belt"},
        headers=coordinator,
    )
    assert ticket.status_code == 201, ticket.text
    configuration = client.post(
        "/api/configurations",
        json={"family_id": "robotic-cell", "customer_id": "cust-2"},
        headers=coordinator,
    )
    assert configuration.status_code == 201, configuration.text
    return {"ticket": str(ticket.json()["id"]), "configuration": configuration.json()["id"]}


@pytest.mark.parametrize("probe", OWNED_PROBES, ids=lambda p: f"{p[0]} {p[1]} {p[2]}")
def test_another_members_ticket_or_configuration_answers_as_a_missing_one(
    client: TestClient, tenants: Tenants, owned: dict[str, str], probe: Any
) -> None:
    name = "ticket" if "{ticket}" in probe[2] else "configuration"
    other = _ask(client, tenants, probe, f"{{{name}}}", owned[name])
    missing = _ask(client, tenants, probe, f"{{{name}}}", MISSING[name])
    assert other == missing
    assert other[0] in (403, 404), other
