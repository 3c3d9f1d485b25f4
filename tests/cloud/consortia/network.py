"""A call for tenders in the tenants' network, and the consortium formed for it, through the API
(an in-process TestClient or an httpx client of a served app): shared by the consortium tests,
the access matrix and the pages' tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.cloud.conftest import Tenants

FAR_SITE = {"name": "Bologna depot", "latitude": 44.49, "longitude": 11.34, "country": "IT"}


def iso(moment: datetime) -> str:
    return moment.isoformat()


def soon(days: float) -> str:
    return iso(datetime.now(UTC) + timedelta(days=days))


def set_kind(client: httpx.Client, tenants: Tenants, kind: str) -> None:
    network = tenants.context.settings.network
    response = client.patch(
        f"/api/networks/{network}", json={"kind": kind}, headers=tenants.headers("coordinator")
    )
    assert response.status_code == 200, response.text


def tender(client: httpx.Client, tenants: Tenants, **fields: Any) -> dict[str, Any]:
    """Welding (p1, 600 min) and painting (p2, 300 min), due in 30 days."""
    body: dict[str, Any] = {
        "title": "Brackets for the city tram",
        "due_at": soon(30),
        "site": FAR_SITE,
        "budget": 12_000,
        "currency": "EUR",
        "customer_id": "cust-1",
        "processes": [
            {"process": "welding", "quantity": 200, "work_minutes": 600},
            {"process": "painting", "quantity": 200, "work_minutes": 300},
        ],
    }
    body.update(fields)
    response = client.post("/api/opportunities", json=body, headers=tenants.headers("coordinator"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def accept(price: float, start_days: float = 1, end_days: float = 10) -> dict[str, Any]:
    return {
        "answer": "accept",
        "price": price,
        "earliest_start": soon(start_days),
        "earliest_end": soon(end_days),
    }


@dataclass
class Formed:
    opportunity: dict[str, Any]
    invitations: dict[tuple[str, str], str]  # (step, unit) -> invitation id
    consortium: dict[str, Any]


def invite_all(
    client: httpx.Client, tenants: Tenants, opportunity_id: str
) -> dict[tuple[str, str], str]:
    body = {
        "deadline": soon(2),
        "candidates": {"p1": ["plant-a", "plant-b"], "p2": ["plant-a", "plant-b"]},
    }
    response = client.post(
        f"/api/opportunities/{opportunity_id}/work-invitations",
        json=body,
        headers=tenants.headers("coordinator"),
    )
    assert response.status_code == 201, response.text
    return {(i["step"], i["unit_id"]): i["id"] for i in response.json()}


def answer(client: httpx.Client, tenants: Tenants, who: str, invitation_id: str, body: Any) -> Any:
    return client.post(
        f"/api/work-invitations/{invitation_id}/answer", json=body, headers=tenants.headers(who)
    )


def form_dynamic(client: httpx.Client, tenants: Tenants) -> Formed:
    """plant-b welds (800), plant-a paints (500); plant-a's dearer welding and plant-b's
    declined painting are not chosen."""
    set_kind(client, tenants, "dynamic")
    opportunity = tender(client, tenants)
    invitations = invite_all(client, tenants, opportunity["id"])
    for (step, unit), body in {
        ("p1", "plant-a"): accept(1000),
        ("p2", "plant-a"): accept(500),
        ("p1", "plant-b"): accept(800),
        ("p2", "plant-b"): {"answer": "decline", "reason": "the paint line is full"},
    }.items():
        response = answer(client, tenants, unit, invitations[(step, unit)], body)
        assert response.status_code == 200, response.text
    response = client.post(
        f"/api/opportunities/{opportunity['id']}/consortium",
        json={"terms": {"payment_terms": "30 days end of month", "penalties": "1 % a day late"}},
        headers=tenants.headers("coordinator"),
    )
    assert response.status_code == 201, response.text
    return Formed(opportunity, invitations, response.json())
