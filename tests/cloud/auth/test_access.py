"""Role by endpoint by other tenant: who may see and do what (403 for a forbidden endpoint, 404
for another tenant's resource behind an allowed one)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloud.auth.dependencies import SESSION_COOKIE
from tests.cloud.conftest import Tenants
from tests.cloud.consortia.network import accept, answer, form_dynamic, soon, tender

UNIT_BODY = {"id": "new-unit", "network_id": "x", "company": "C", "latitude": 1, "longitude": 1}
SUPPLIER_BODY = {"id": "s1", "company": "S", "latitude": 1, "longitude": 1, "country": "IT"}

# (method, path, body) -> expected status per caller. plant-a's own resources are under
# "plant-a", the other tenant's under "plant-b".
MATRIX = [
    (
        "GET",
        "/api/units/plant-a",
        None,
        {"coordinator": 200, "plant-a": 200, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/units/plant-b",
        None,
        {"coordinator": 200, "plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "PATCH",
        "/api/units/plant-a",
        {"site": "x"},
        {"coordinator": 200, "plant-a": 403, "technician": 403, "customer": 403},
    ),
    ("POST", "/api/units", UNIT_BODY, {"plant-a": 403, "technician": 403, "customer": 403}),
    ("DELETE", "/api/units/plant-b", None, {"plant-a": 403, "technician": 403, "customer": 403}),
    (
        "POST",
        "/api/units/plant-b/mqtt-credentials",
        None,
        {"plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/outbox",
        None,
        {"coordinator": 200, "plant-a": 403, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/machines/plant-a/m1",
        None,
        {"coordinator": 200, "plant-a": 200, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/machines/plant-b/m1",
        None,
        {"coordinator": 200, "plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "PATCH",
        "/api/machines/plant-b/m1",
        {"name": "x"},
        {"plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "DELETE",
        "/api/machines/plant-b/m1",
        None,
        {"plant-a": 403, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/machines/plant-b/m1/rollups",
        None,
        {"coordinator": 200, "plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/machines/plant-b/m1/samples",
        None,
        {"coordinator": 200, "plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "POST",
        "/api/units/plant-b/machines",
        {"machine": "m9", "name": "x"},
        {"plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/units/plant-a/health",
        None,
        {"coordinator": 200, "plant-a": 200, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/units/plant-b/health",
        None,
        {"coordinator": 200, "plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/jobs?unit_id=plant-b",
        None,
        {"coordinator": 200, "plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/technicians/tech-plant-b",
        None,
        {"coordinator": 200, "plant-a": 404, "technician": 404, "customer": 403},
    ),
    (
        "GET",
        "/api/technicians/tech-plant-a",
        None,
        {"coordinator": 200, "plant-a": 200, "technician": 200, "customer": 403},
    ),
    (
        "PATCH",
        "/api/technicians/tech-plant-b",
        {"name": "x"},
        {"plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/transport-times/plant-b/plant-b",
        None,
        {"coordinator": 200, "plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "PUT",
        "/api/transport-times",
        {"from_unit_id": "plant-a", "to_unit_id": "plant-b", "hours": 2},
        {"plant-a": 403, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/networks",
        None,
        {"coordinator": 200, "plant-a": 200, "technician": 403, "customer": 403},
    ),
    (
        "POST",
        "/api/networks",
        {"id": "n2", "name": "N", "kind": "stable"},
        {"plant-a": 403, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/principals",
        None,
        {"coordinator": 200, "plant-a": 403, "technician": 403, "customer": 403},
    ),
    (
        "POST",
        "/api/principals",
        {"name": "x", "role": "coordinator"},
        {"plant-a": 403, "technician": 403, "customer": 403},
    ),
    (
        "POST",
        "/api/people",
        {"name": "x", "username": "x1", "role": "coordinator"},
        {"plant-a": 403, "technician": 403, "customer": 403},
    ),
    (
        "POST",
        "/api/principals/1/invitation",
        None,
        {"plant-a": 403, "technician": 403, "customer": 403},
    ),
    (
        "PUT",
        "/api/units/plant-a/rates/milling",
        {"hourly_rate": 70, "setup_cost": 20},
        {"coordinator": 200, "plant-a": 200, "technician": 403, "customer": 403},
    ),
    (
        "PUT",
        "/api/units/plant-b/rates/milling",
        {"hourly_rate": 70},
        {"plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/units/plant-a/rates",
        None,
        {"coordinator": 200, "plant-a": 200, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/units/plant-b/rates",
        None,
        {"coordinator": 200, "plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "DELETE",
        "/api/units/plant-b/rates/milling",
        None,
        {"plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/quotes/q-none/breakdown",  # a plant sees a quote only with lines of its own
        None,
        {"coordinator": 404, "plant-a": 404, "technician": 403, "customer": 404},
    ),
    (
        "POST",
        "/api/quotes/q-none/refuse",
        None,
        {"coordinator": 404, "plant-a": 403, "technician": 403, "customer": 404},
    ),
    (
        "POST",
        "/api/quotes/q-none/withdraw",
        None,
        {"coordinator": 404, "plant-a": 403, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/plan/gantt",  # scoped inside: a plant its machines, a customer its own orders
        None,
        {"coordinator": 200, "plant-a": 200, "technician": 403, "customer": 200},
    ),
    (
        "GET",
        "/api/notifications/emails",
        None,
        {"coordinator": 200, "plant-a": 403, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/me/notifications",
        None,
        {"coordinator": 200, "plant-a": 200, "technician": 200, "customer": 200},
    ),
    (
        "PUT",
        "/api/me/notifications",
        {"events": [], "enabled": False},
        {"coordinator": 200, "plant-a": 200, "technician": 200, "customer": 200},
    ),
    (
        "GET",
        "/api/overview",
        None,
        {"coordinator": 200, "plant-a": 200, "technician": 403, "customer": 403},
    ),
    # Suppliers are the coordinator's registry; purchases are scoped inside (a plant those
    # gating its operations, a customer those of their orders, neither with prices).
    (
        "GET",
        "/api/suppliers",
        None,
        {"coordinator": 200, "plant-a": 403, "technician": 403, "customer": 403},
    ),
    ("POST", "/api/suppliers", SUPPLIER_BODY, {"plant-a": 403, "technician": 403, "customer": 403}),
    (
        "PUT",
        "/api/suppliers/s1/offers/steel-plate",
        {"unit_price": 1, "lead_time_days": 1},
        {"coordinator": 404, "plant-a": 403, "technician": 403, "customer": 403},
    ),
    (
        "POST",
        "/api/suppliers/match",
        {"materials": [{"item": "steel-plate", "quantity": 1}]},
        {"coordinator": 200, "plant-a": 403, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/purchases",
        None,
        {"coordinator": 200, "plant-a": 200, "technician": 403, "customer": 200},
    ),
    (
        "GET",
        "/api/purchases/po-none",
        None,
        {"coordinator": 404, "plant-a": 404, "technician": 403, "customer": 404},
    ),
    (
        "POST",
        "/api/purchases/po-none/delivery",
        {},
        {"coordinator": 404, "plant-a": 404, "technician": 403, "customer": 403},
    ),
    (
        "POST",
        "/api/purchases/po-none/delay",
        {"expected_at": "2030-01-01T00:00:00Z"},
        {"coordinator": 404, "plant-a": 404, "technician": 403, "customer": 403},
    ),
    # The ledger and scorecards (issue 21 items 7-8): members their own, customers and
    # technicians nothing; no order is delivered here, so an order's ledger is missing.
    *(
        (
            "GET",
            path,
            None,
            {"coordinator": 200, "plant-a": 200, "technician": 403, "customer": 403},
        )
        for path in (
            "/api/ledger",
            "/api/ledger?unit_id=plant-b",
            "/api/ledger.csv",
            "/api/ledger/members",
            "/api/scorecards",
            "/api/scorecards/plant-a",
        )
    ),
    *(
        (
            "GET",
            path,
            None,
            {"coordinator": 404, "plant-a": 404, "technician": 403, "customer": 403},
        )
        for path in ("/api/orders/ord-none/ledger", "/api/orders/ord-none/ledger.csv")
    ),
    (
        "GET",
        "/api/scorecards/plant-b",
        None,
        {"coordinator": 200, "plant-a": 404, "technician": 403, "customer": 403},
    ),
    # Delivered products: their customer and the coordinator (no product here: 404 past the
    # role check), the contract's terms and the field asset the coordinator's alone.
    *(
        (
            method,
            f"/api/products/SERIAL-1/{path}",
            body,
            {"coordinator": 404, "plant-a": 403, "technician": 403, "customer": 404},
        )
        for method, path, body in (
            ("GET", "page", None),
            ("GET", "contract", None),
            ("GET", "service-requests", None),
            ("POST", "service-requests", {"title": "It stopped"}),
        )
    ),
    (
        "PATCH",
        "/api/products/SERIAL-1/contract",
        {"response_hours": 2},
        {"coordinator": 404, "plant-a": 403, "technician": 403, "customer": 403},
    ),
    (
        "PUT",
        "/api/products/SERIAL-1/field-asset",
        {"unit_id": "plant-a", "asset": "m1"},
        {"coordinator": 404, "plant-a": 403, "technician": 403, "customer": 403},
    ),
    # People and their access: the coordinator's alone; each principal its own preferences.
    *(
        (method, path, body, {"plant-a": 403, "technician": 403, "customer": 403})
        for method, path, body in (
            ("GET", "/api/principals", None),
            ("POST", "/api/people", {"name": "X", "username": "xx", "role": "coordinator"}),
            ("POST", "/api/principals/1/invitation", None),
            ("DELETE", "/api/principals/1", None),
        )
    ),
    (
        "GET",
        "/api/people",
        None,
        {"coordinator": 200, "plant-a": 403, "technician": 403, "customer": 403},
    ),
    (
        "GET",
        "/api/me/notifications",
        None,
        {"coordinator": 200, "plant-a": 200, "technician": 200, "customer": 200},
    ),
    (
        "GET",
        "/api/service-levels/overdue",
        None,
        {"coordinator": 200, "plant-a": 403, "technician": 403, "customer": 403},
    ),
]


def test_role_endpoint_tenant_matrix(client: TestClient, tenants: Tenants) -> None:
    """One app for the whole matrix (fast); every mismatch is listed when it fails."""
    mismatches = []
    for method, path, body, expected in MATRIX:
        for who, status in expected.items():
            response = client.request(method, path, json=body, headers=tenants.headers(who))
            error = response.json().get("error") if status >= 400 else None
            if response.status_code != status or error not in (None, "forbidden", "not_found"):
                mismatches.append((method, path, who, status, response.status_code, error))
    assert mismatches == []


def test_lists_are_scoped_to_the_plant(client: TestClient, tenants: Tenants) -> None:
    units = client.get("/api/units", headers=tenants.headers("plant-a")).json()
    assert [u["id"] for u in units] == ["plant-a"]
    machines = client.get("/api/machines", headers=tenants.headers("plant-a")).json()
    assert {m["unit_id"] for m in machines} == {"plant-a"}
    other = client.get("/api/machines?unit_id=plant-b", headers=tenants.headers("plant-a"))
    assert other.json() == []
    technicians = client.get("/api/technicians", headers=tenants.headers("plant-a")).json()
    assert [t["id"] for t in technicians] == ["tech-plant-a"]
    overview = client.get("/api/overview", headers=tenants.headers("plant-a")).json()
    assert [u["unit_id"] for u in overview["units"]] == ["plant-a"]
    gantt = client.get("/api/plan/gantt", headers=tenants.headers("plant-a")).json()
    assert {row["unit_id"] for row in gantt["rows"]} == {"plant-a"}
    nothing_ordered = client.get("/api/plan/gantt", headers=tenants.headers("customer")).json()
    assert nothing_ordered["rows"] == []
    all_units = client.get("/api/units", headers=tenants.headers("coordinator")).json()
    assert {u["id"] for u in all_units} == {"plant-a", "plant-b"}


def test_prices_of_other_members_are_not_visible(client: TestClient, tenants: Tenants) -> None:
    body = client.get("/api/units", headers=tenants.headers("plant-a")).text
    assert body.count("hourly_rate") == 1  # its own only


def test_missing_wrong_and_revoked_keys_are_refused(client: TestClient, tenants: Tenants) -> None:
    assert client.get("/api/units").status_code == 401
    bad = client.get("/api/units", headers={"Authorization": "Bearer glo_nope_nope"})
    assert bad.status_code == 401 and bad.json()["error"] == "not_authenticated"
    principals = client.get("/api/principals", headers=tenants.headers("coordinator")).json()
    plant_b = next(p for p in principals if p["unit_id"] == "plant-b")
    client.delete(f"/api/principals/{plant_b['id']}", headers=tenants.headers("coordinator"))
    assert client.get("/api/units", headers=tenants.headers("plant-b")).status_code == 401


LIVE_READS = [
    "/api/overview",
    "/api/machines",
    "/api/machines/plant-a/m1",
    "/api/machines/plant-a/m1/rollups",
    "/api/machines/plant-a/m1/samples",
    "/api/jobs",
    "/api/units/plant-a/health",
]


@pytest.mark.parametrize("path", LIVE_READS)
def test_live_reads_refuse_missing_wrong_and_revoked_keys(
    client: TestClient, tenants: Tenants, path: str
) -> None:
    """The live reads authenticate inside their one worker-thread call (as_caller), apart from
    the DbSession/CurrentActor dependencies of the other endpoints."""
    assert client.get(path, headers=tenants.headers("plant-a")).status_code == 200
    missing = client.get(path)
    assert missing.status_code == 401 and missing.json()["error"] == "not_authenticated"
    wrong = client.get(path, headers={"Authorization": "Bearer glo_nope_nope"})
    assert wrong.status_code == 401
    principals = client.get("/api/principals", headers=tenants.headers("coordinator")).json()
    plant_a = next(p for p in principals if p["unit_id"] == "plant-a")
    client.delete(f"/api/principals/{plant_a['id']}", headers=tenants.headers("coordinator"))
    assert client.get(path, headers=tenants.headers("plant-a")).status_code == 401


def test_offboarding_a_unit_revokes_its_keys_and_machines(
    client: TestClient, tenants: Tenants
) -> None:
    response = client.delete("/api/units/plant-b", headers=tenants.headers("coordinator"))
    assert response.status_code == 204
    assert client.get("/api/units", headers=tenants.headers("plant-b")).status_code == 401
    machines = client.get("/api/machines", headers=tenants.headers("coordinator")).json()
    assert {m["unit_id"] for m in machines} == {"plant-a"}


def test_a_plant_may_add_its_own_technicians_only(client: TestClient, tenants: Tenants) -> None:
    body = {"id": "t9", "name": "N", "home_latitude": 1, "home_longitude": 2}
    own = client.post(
        "/api/technicians",
        json={**body, "employer_unit_id": "plant-a"},
        headers=tenants.headers("plant-a"),
    )
    assert own.status_code == 201
    other = client.post(
        "/api/technicians",
        json={**body, "id": "t10", "employer_unit_id": "plant-b"},
        headers=tenants.headers("plant-a"),
    )
    assert other.status_code == 404


def test_transport_times_do_not_reveal_whether_a_unit_exists(
    client: TestClient, tenants: Tenants
) -> None:
    coordinator_headers = tenants.headers("coordinator")
    network = {"id": "elsewhere", "name": "Elsewhere", "kind": "stable"}
    assert client.post("/api/networks", json=network, headers=coordinator_headers).is_success
    far = {
        "id": "far-co",
        "network_id": "elsewhere",
        "company": "Far",
        "latitude": 1,
        "longitude": 1,
    }
    assert client.post("/api/units", json=far, headers=coordinator_headers).is_success
    headers = tenants.headers("plant-a")
    answers = [
        client.get(f"/api/transport-times/{own}/{other}", headers=headers)
        for own, other in [
            ("plant-a", "nowhere"),  # unknown
            ("nowhere", "plant-a"),
            ("plant-a", "far-co"),  # another network's: forbidden
            ("far-co", "plant-a"),
            ("plant-b", "far-co"),  # not its own
        ]
    ]
    assert {(a.status_code, a.text) for a in answers} == {(404, answers[0].text)}
    assert client.get("/api/transport-times/plant-a/plant-b", headers=headers).status_code == 200


def _tender(customer_id: str) -> dict[str, Any]:
    return {
        "title": f"Brackets for {customer_id}",
        "due_at": (datetime.now(UTC) + timedelta(days=20)).isoformat(),
        "site": {"latitude": 45.0, "longitude": 9.0, "country": "IT"},
        "budget": 1000,
        "customer_id": customer_id,
        "processes": [{"process": "milling", "work_minutes": 60}],
    }


def _opportunity(client: TestClient, tenants: Tenants, customer_id: str) -> str:
    response = client.post(
        "/api/opportunities", json=_tender(customer_id), headers=tenants.headers("coordinator")
    )
    assert response.status_code == 201, response.text
    opportunity_id: str = response.json()["id"]
    return opportunity_id


def test_opportunities_by_role_and_tenant(client: TestClient, tenants: Tenants) -> None:
    """Coordinator everything; the customer its own opportunities (read only) and no partner
    search; a plant no opportunity but its own rows of a search; a technician nothing."""
    own = _opportunity(client, tenants, "cust-1")
    other = _opportunity(client, tenants, "cust-2")
    status = {"to": "forming"}
    matrix = [
        ("GET", "/api/opportunities", None, {"plant-a": 403, "technician": 403, "customer": 200}),
        (
            "POST",
            "/api/opportunities",
            _tender("cust-1"),
            {"plant-a": 403, "technician": 403, "customer": 403},
        ),
        (
            "GET",
            f"/api/opportunities/{own}",
            None,
            {"plant-a": 403, "technician": 403, "customer": 200},
        ),
        ("GET", f"/api/opportunities/{other}", None, {"customer": 404, "coordinator": 200}),
        (
            "POST",
            f"/api/opportunities/{own}/status",
            status,
            {"plant-a": 403, "technician": 403, "customer": 403},
        ),
        (
            "GET",
            f"/api/opportunities/{own}/candidates",
            None,
            {"coordinator": 200, "plant-a": 200, "technician": 403, "customer": 403},
        ),
        ("POST", f"/api/opportunities/{own}/status", status, {"coordinator": 200}),
    ]
    mismatches = []
    for method, path, body, expected in matrix:
        for who, code in expected.items():
            response = client.request(method, path, json=body, headers=tenants.headers(who))
            if response.status_code != code:
                mismatches.append((method, path, who, code, response.status_code))
    assert mismatches == []
    listed = client.get("/api/opportunities", headers=tenants.headers("customer")).json()
    assert [o["id"] for o in listed] == [own]
    search = client.get(f"/api/opportunities/{own}/candidates", headers=tenants.headers("plant-a"))
    rows = [c["unit_id"] for p in search.json()["processes"] for c in p["candidates"]]
    assert rows == ["plant-a"]
    assert search.text.count("hourly_rate") == 1


def test_invitations_and_consortia_matrix(client: TestClient, tenants: Tenants) -> None:
    """Issue 21's invitations and consortia, API and pages: a plant sees its own invitations and
    the consortia it is in, answers and accepts only as itself; the coordinator sees all and
    answers for nobody; technicians and customers have no part in them."""
    shared = form_dynamic(client, tenants)
    alone = tender(client, tenants)
    invitations = client.post(
        f"/api/opportunities/{alone['id']}/work-invitations",
        json={"deadline": soon(2), "candidates": {"p1": ["plant-b"], "p2": ["plant-b"]}},
        headers=tenants.headers("coordinator"),
    ).json()
    for invitation in invitations:
        assert answer(client, tenants, "plant-b", invitation["id"], accept(100)).is_success
    b_only = client.post(
        f"/api/opportunities/{alone['id']}/consortium",
        json={},
        headers=tenants.headers("coordinator"),
    ).json()["id"]
    theirs, mine = invitations[0]["id"], shared.invitations[("p1", "plant-a")]
    together, opportunity = shared.consortium["id"], shared.opportunity["id"]
    everyone = {"coordinator": 200, "plant-a": 200, "technician": 403, "customer": 403}
    others = {"coordinator": 200, "plant-a": 404, "technician": 403, "customer": 403}
    only_coordinator = {"coordinator": 200, "plant-a": 403, "technician": 403, "customer": 403}
    nobody = {"plant-a": 403, "technician": 403, "customer": 403}
    matrix = [
        ("GET", "/api/work-invitations", None, everyone),
        ("GET", f"/api/work-invitations/{mine}", None, everyone),
        ("GET", f"/api/work-invitations/{theirs}", None, others),
        (
            "POST",
            f"/api/work-invitations/{theirs}/answer",
            accept(5),
            {**others, "coordinator": 403},
        ),
        (
            "POST",
            f"/api/opportunities/{opportunity}/work-invitations",
            {"deadline": soon(1), "candidates": {"p1": ["plant-a"]}},
            {**nobody, "coordinator": 409},
        ),
        ("GET", f"/api/opportunities/{opportunity}/selection", None, only_coordinator),
        (
            "POST",
            f"/api/opportunities/{opportunity}/consortium",
            {},
            {**nobody, "coordinator": 409},
        ),
        # A call for tenders has no configured product to quote; nobody else quotes at all.
        ("POST", f"/api/opportunities/{opportunity}/quote", None, {**nobody, "coordinator": 409}),
        ("GET", "/api/consortia", None, everyone),
        ("GET", f"/api/consortia/{together}", None, everyone),
        ("GET", f"/api/consortia/{b_only}", None, others),
        (
            "POST",
            f"/api/consortia/{b_only}/revisions",
            {"base_revision": 1, "comment": "x"},
            nobody,
        ),
        (
            "POST",
            f"/api/consortia/{b_only}/acceptances",
            {"revision": 1},
            {**others, "coordinator": 403},
        ),
    ]
    mismatches = []
    for method, path, body, expected in matrix:
        for who, status in expected.items():
            response = client.request(method, path, json=body, headers=tenants.headers(who))
            if response.status_code != status:
                mismatches.append((method, path, who, status, response.status_code))
    pages = [
        ("/invitations", {"coordinator": 200, "plant-a": 200, "customer": 200}),
        ("/consortia", {"coordinator": 200, "plant-a": 200, "customer": 200}),
        (f"/consortia/{b_only}", {"coordinator": 200, "plant-a": 404, "customer": 403}),
    ]
    for path, statuses in pages:
        for who, status in statuses.items():
            if _page(client, tenants, who, path).status_code != status:
                mismatches.append(
                    ("page", path, who, status, _page(client, tenants, who, path).status_code)
                )
    assert mismatches == []

    # Lists and reads are scoped: plant-a never meets plant-b's invitations, consortium or prices.
    headers = tenants.headers("plant-a")
    assert {i["unit_id"] for i in client.get("/api/work-invitations", headers=headers).json()} == {
        "plant-a"
    }
    assert [c["id"] for c in client.get("/api/consortia", headers=headers).json()] == [together]
    page = _page(client, tenants, "plant-a", f"/consortia/{together}")
    assert "800.00" not in page.text and "500.00" in page.text


def _page(client: TestClient, tenants: Tenants, who: str, path: str) -> Any:
    client.cookies.set(SESSION_COOKIE, tenants.keys[who])
    try:
        return client.get(path)
    finally:
        client.cookies.clear()


# The ledger and scorecard pages (issue 21): a member its own, customers and technicians refused.
PAGES = [
    ("/ledger", {"coordinator": 200, "plant-a": 200, "technician": 403, "customer": 403}),
    ("/ledger/ord-none", {"coordinator": 404, "plant-a": 404, "technician": 403, "customer": 403}),
    ("/scorecards", {"coordinator": 200, "plant-a": 200, "technician": 403, "customer": 403}),
    # People (issue 22): the coordinator's page; every principal's own account.
    ("/people", {"coordinator": 200, "plant-a": 403, "technician": 403, "customer": 403}),
    ("/account", {"coordinator": 200, "plant-a": 200, "technician": 200, "customer": 200}),
]


def test_role_page_matrix(client: TestClient, tenants: Tenants) -> None:
    mismatches = []
    for path, expected in PAGES:
        for who, status in expected.items():
            client.cookies.set("glonet_key", tenants.keys[who])
            response = client.get(path)
            if (
                response.status_code != status
                or "text/html" not in response.headers["content-type"]
            ):
                mismatches.append((path, who, status, response.status_code))
        client.cookies.clear()
        if client.get(path).status_code != 401:  # signed out: the sign-in form
            mismatches.append((path, "nobody", 401, client.get(path).status_code))
    assert mismatches == []
