"""Delivered products as a service, through the HTTP API and the product's page: the contract a
delivery starts, the field asset's live state, service requests that open tickets the
customer follows without ever reading an internal note, and missed service-level times."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from cloud.config import Settings
from cloud.database import transaction, utcnow
from cloud.network import service as network_service
from cloud.orders import service as orders_service
from cloud.orders.models import OrderOperation
from cloud.products import service as product_service
from cloud.registry import service as registry_service
from cloud.registry.models import Machine
from cloud.telemetry.models import LatestMetric
from protocols.messages import CapacityReport
from tests.cloud.conftest import coordinator, make_key, onboard
from tests.cloud.orders.network import ROBOT_CELL, auth, build_network
from tests.waiting import wait_until

SECRET = "customer is difficult: bill the travel twice"


@pytest.fixture
def api(settings_factory: Any) -> Iterator[tuple[TestClient, dict[str, str]]]:
    terms = {"months": 12, "service_level": "premium", "response_hours": 4}
    settings: Settings = settings_factory(products={"families": {"robotic-cell": terms}})
    from cloud.main import create_app

    with TestClient(create_app(settings)) as client:
        context = client.app.state.context  # type: ignore[attr-defined]
        keys = build_network(context)
        technician = {
            "id": "tess",
            "name": "Tess",
            "employer_unit_id": "lead",
            "home_latitude": 44.5,
            "home_longitude": 11.3,
        }
        answer = client.post("/api/technicians", json=technician, headers=auth(keys, "coordinator"))
        assert answer.status_code == 201, answer.text
        keys["technician"] = make_key(context, "technician", technician_id="tess")
        yield client, keys


def completed_order(client: TestClient, keys: dict[str, str]) -> str:
    """Alice's robotic cell, made (its operations ended): the order, ready to deliver."""
    configuration = client.post(
        "/api/configurations",
        json={"family_id": "robotic-cell", "values": ROBOT_CELL},
        headers=auth(keys, "alice"),
    ).json()
    quote = client.post(
        "/api/quotes", json={"configuration_id": configuration["id"]}, headers=auth(keys, "alice")
    ).json()
    order_id = client.post(
        f"/api/quotes/{quote['id']}/confirm", headers=auth(keys, "alice")
    ).json()["id"]
    factory = client.app.state.context.session_factory  # type: ignore[attr-defined]
    with transaction(factory) as session:
        session.execute(
            update(OrderOperation)
            .where(OrderOperation.order_id == order_id)
            .values(status="ended", progress=1.0, unit_id="lead", machine="asm-1")
        )
        orders_service.advance_orders(session=session, now=utcnow())
    return str(order_id)


def delivered_product(client: TestClient, keys: dict[str, str]) -> str:
    """Alice's robotic cell, made and delivered; its serial."""
    order_id = completed_order(client, keys)
    delivered = client.post(f"/api/orders/{order_id}/deliver", headers=auth(keys, "coordinator"))
    assert delivered.status_code == 200, delivered.text
    return serial_of(client, keys, order_id)


def serial_of(client: TestClient, keys: dict[str, str], order_id: str) -> str:
    products = client.get("/api/products", headers=auth(keys, "alice")).json()
    return str(next(p["serial"] for p in products if p["order_id"] == order_id))


def test_delivery_starts_the_contract_from_the_familys_terms(api: Any) -> None:
    client, keys = api
    serial = delivered_product(client, keys)
    contract = client.get(f"/api/products/{serial}/contract", headers=auth(keys, "alice")).json()
    starts, ends = (datetime.fromisoformat(contract[k]) for k in ("starts_at", "ends_at"))
    assert contract["service_level"] == "premium" and contract["response_hours"] == 4
    assert contract["active"] and 365 <= (ends - starts).days <= 366
    assert (
        client.get(f"/api/products/{serial}/contract", headers=auth(keys, "bob")).status_code == 404
    )

    change = {"service_level": "basic", "response_hours": 48}
    refused = client.patch(
        f"/api/products/{serial}/contract", json=change, headers=auth(keys, "alice")
    )
    assert refused.status_code == 403
    changed = client.patch(
        f"/api/products/{serial}/contract", json=change, headers=auth(keys, "coordinator")
    ).json()
    assert (changed["service_level"], changed["response_hours"]) == ("basic", 48)
    for bad in (
        {"service_level": "platinum"},
        {"ends_at": contract["starts_at"]},
        {"ends_at": "2030-01-01T00:00:00"},  # no zone
        {"response_hours": 0},
    ):
        answer = client.patch(
            f"/api/products/{serial}/contract", json=bad, headers=auth(keys, "coordinator")
        )
        assert answer.status_code == 422, (bad, answer.text)


def test_the_page_shows_as_built_contract_and_no_live_data(api: Any) -> None:
    client, keys = api
    serial = delivered_product(client, keys)
    client.cookies.set("glonet_key", keys["alice"])
    html = client.get(f"/products/{serial}").text
    assert "No live data" in html and "premium" in html and "4 hours" in html
    assert 'id="as-built"' in html and "asm-1" in html and "lead" in html
    client.cookies.set("glonet_key", keys["bob"])
    other = client.get(f"/products/{serial}")
    assert other.status_code == 404 and "asm-1" not in other.text


def test_a_product_installed_as_a_field_asset_shows_its_live_state_with_units(api: Any) -> None:
    """Delivered with the asset it was commissioned as at the site (or linked later), the
    product's page shows what the site's field gateway reports of that asset."""
    client, keys = api
    context = client.app.state.context  # type: ignore[attr-defined]
    onboard(context, "field")
    with transaction(context.session_factory) as session:
        metrics = [{"name": "JointTemperature", "unit": "°C"}, {"name": "CycleTime", "unit": "s"}]
        registry_service.record_birth(
            session=session,
            unit_id="field",
            machines=[
                {"machine": "cell-1", "name": "Cell", "asset_kind": "product", "metrics": metrics},
                {"machine": "cell-2", "name": "Cell", "asset_kind": "product"},
                {"machine": "mill-9", "name": "Mill"},
            ],
        )
    order_id = completed_order(client, keys)
    deliver = f"/api/orders/{order_id}/deliver"
    for wrong in (
        {"unit_id": "field", "asset": "mill-9"},  # a plant's machine is not a field product
        {"unit_id": "field", "asset": "cell-99"},
        {"unit_id": "field"},
    ):
        answer = client.post(
            deliver, json={"field_asset": wrong}, headers=auth(keys, "coordinator")
        )
        assert answer.status_code == 422, (wrong, answer.text)
    order = client.get(f"/api/orders/{order_id}", headers=auth(keys, "alice")).json()
    assert order["status"] == "completed"  # a wrong installation delivers nothing
    link = {"unit_id": "field", "asset": "cell-1"}
    delivered = client.post(deliver, json={"field_asset": link}, headers=auth(keys, "coordinator"))
    assert delivered.status_code == 200 and delivered.json()["status"] == "delivered"
    serial = serial_of(client, keys, order_id)
    product = client.get(f"/api/products/{serial}", headers=auth(keys, "alice")).json()
    assert (product["field_unit_id"], product["field_asset"]) == ("field", "cell-1")
    with context.session_factory() as session:
        asset = session.scalars(select(Machine).where(Machine.machine == "cell-1")).one()
        assert asset.static_data == {"customer": "alice", "service_level": "premium"}

    other = delivered_product(client, keys)  # delivered without a field asset: linked later
    path = f"/api/products/{other}/field-asset"
    assert client.put(path, json=link, headers=auth(keys, "alice")).status_code == 403
    plant = client.put(path, json={**link, "asset": "mill-9"}, headers=auth(keys, "coordinator"))
    assert plant.status_code == 422
    taken = client.put(path, json=link, headers=auth(keys, "coordinator"))
    assert taken.status_code == 409 and serial in taken.json()["message"]
    linked = client.put(path, json={**link, "asset": "cell-2"}, headers=auth(keys, "coordinator"))
    assert linked.status_code == 200 and linked.json()["field_asset"] == "cell-2"
    page = client.get(f"/api/products/{serial}/page", headers=auth(keys, "alice")).json()
    assert page["live"]["reporting"] is False  # installed, but nothing reported yet

    now = utcnow()
    with transaction(context.session_factory) as session:
        network_service.apply_unit_state(
            session=session, unit_id="field", status="online", reason=None, seq=1, at=now
        )
        report = CapacityReport(
            machine="cell-1",
            available=True,
            state="Executing",
            mode="Processing",
            free_slots=0,
            queue_free_at=now,
            reported_at=now,
        )
        network_service.apply_capacities(session=session, reports=[("field", report, 2)])
        for metric, value in (("JointTemperature", 41.25), ("CycleTime", 7.5)):
            session.add(
                LatestMetric(
                    unit_id="field",
                    machine="cell-1",
                    metric=metric,
                    time=now,
                    value_number=value,
                    value_text=None,
                    quality="good",
                )
            )
    live = client.get(f"/api/products/{serial}/page", headers=auth(keys, "alice")).json()["live"]
    assert live["reporting"] and live["online"] and live["state"] == "Executing"
    assert {(m["metric"], m["value"], m["unit"]) for m in live["metrics"]} == {
        ("JointTemperature", 41.25, "°C"),
        ("CycleTime", 7.5, "s"),
    }
    client.cookies.set("glonet_key", keys["alice"])
    html = client.get(f"/products/{serial}").text
    assert "online" in html and "41.2 °C" in html and "7.5 s" in html
    assert "No live data" not in html


def test_a_service_request_is_a_ticket_the_customer_follows_without_internal_notes(
    api: Any,
) -> None:
    client, keys = api
    serial = delivered_product(client, keys)
    path = f"/api/products/{serial}/service-requests"
    blank = client.post(path, json={"title": "  ", "description": "x"}, headers=auth(keys, "alice"))
    assert blank.status_code == 422
    assert [f["field"] for f in blank.json()["fields"]] == ["body.title"]
    assert (
        client.post(
            path, json={"title": "Gripper drops boxes"}, headers=auth(keys, "bob")
        ).status_code
        == 404
    )
    opened = client.post(
        path,
        json={"title": "Gripper drops boxes", "description": "since this morning"},
        headers=auth(keys, "alice"),
    )
    assert opened.status_code == 201, opened.text
    request = opened.json()
    ticket = request["id"]
    assert request["status"] in ("open", "assigned") and request["priority"] == "P1"  # premium
    due = datetime.fromisoformat(request["response_due_at"]) - datetime.fromisoformat(
        request["opened_at"]
    )
    assert due == timedelta(hours=4)

    coordinator_headers = auth(keys, "coordinator")
    tickets = f"/api/maintenance/tickets/{ticket}"
    detail = client.get(tickets, headers=coordinator_headers).json()
    assert (detail["asset"], detail["customer_id"], detail["service_level"]) == (
        serial,
        "alice",
        "premium",
    )
    client.post(f"{tickets}/assign", json={"technician_id": "tess"}, headers=coordinator_headers)
    client.post(f"{tickets}/notes", json={"text": SECRET}, headers=coordinator_headers)
    said = {"text": "We come on Tuesday morning.", "audience": "customer"}
    client.post(f"{tickets}/notes", json=said, headers=coordinator_headers)
    technician = auth(keys, "technician")
    assert client.post(f"{tickets}/acknowledge", headers=technician).status_code == 200
    assert client.post(f"{tickets}/start", headers=technician).status_code == 200
    resolved = client.post(
        f"{tickets}/resolve", json={"note": "Replaced the vacuum cup."}, headers=technician
    )
    assert resolved.status_code == 200, resolved.text

    followed = client.get(path, headers=auth(keys, "alice")).json()
    assert [r["id"] for r in followed] == [ticket]
    assert followed[0]["status"] == "resolved"
    assert followed[0]["resolution"] == "Replaced the vacuum cup."
    assert followed[0]["visit_started_at"] is not None
    details = [u["detail"] for u in followed[0]["updates"]]
    assert "We come on Tuesday morning." in details
    # The internal note: in the coordinator's timeline, nowhere the customer looks.
    assert SECRET in client.get(tickets, headers=coordinator_headers).text
    client.cookies.set("glonet_key", keys["alice"])
    seen_by_customer = [
        client.get(tickets, headers=auth(keys, "alice")),
        client.get("/api/maintenance/tickets", headers=auth(keys, "alice")),
        client.get(path, headers=auth(keys, "alice")),
        client.get(f"/api/products/{serial}/page", headers=auth(keys, "alice")),
        client.get(f"/products/{serial}"),
        client.get(f"/maintenance/tickets/{ticket}"),
        client.get("/"),
    ]
    for answer in seen_by_customer:
        assert answer.status_code == 200, answer.url
        assert SECRET not in answer.text, answer.url
    customer_detail = seen_by_customer[0].json()
    assert customer_detail["notifications"] == []
    assert {e["audience"] for e in customer_detail["timeline"]} == {"customer"}
    assert "Replaced the vacuum cup." in seen_by_customer[4].text
    client.cookies.set("glonet_key", keys["coordinator"])
    internal_page = client.get(f"/maintenance/tickets/{ticket}").text
    assert SECRET in internal_page and 'id="note-for-customer"' in internal_page
    assert "(customer sees)" in internal_page


def test_a_second_request_joins_the_open_ticket(api: Any) -> None:
    client, keys = api
    serial = delivered_product(client, keys)
    path = f"/api/products/{serial}/service-requests"
    first = client.post(path, json={"title": "Noisy joint"}, headers=auth(keys, "alice")).json()
    second = client.post(path, json={"title": "Still noisy"}, headers=auth(keys, "alice")).json()
    assert second["id"] == first["id"]
    assert any("Still noisy" in u["detail"] for u in second["updates"])


def test_missed_response_and_resolution_times_for_the_coordinator(api: Any) -> None:
    client, keys = api
    serial = delivered_product(client, keys)
    path = f"/api/products/{serial}/service-requests"
    ticket = client.post(path, json={"title": "Stopped"}, headers=auth(keys, "alice")).json()
    opened = datetime.fromisoformat(ticket["opened_at"])
    factory = client.app.state.context.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        late = product_service.overdue(
            session=session, actor=coordinator(), now=opened + timedelta(hours=5)
        )
        assert [(o.ticket_id, o.missed) for o in late] == [(ticket["id"], "response")]
        assert late[0].due_at == opened + timedelta(hours=4)
        assert (
            product_service.overdue(
                session=session, actor=coordinator(), now=opened + timedelta(hours=3)
            )
            == []
        )
    assert client.get("/api/service-levels/overdue", headers=auth(keys, "alice")).status_code == 403
    assert client.get("/api/service-levels/overdue", headers=auth(keys, "coordinator")).json() == []

    # Answered, but not repaired by the ticket's due time: the resolution is missed.
    tickets = f"/api/maintenance/tickets/{ticket['id']}"
    assign = {"technician_id": "tess"}
    assert client.post(
        f"{tickets}/assign", json=assign, headers=auth(keys, "coordinator")
    ).is_success
    assert client.post(f"{tickets}/acknowledge", headers=auth(keys, "technician")).is_success
    due = datetime.fromisoformat(ticket["due_at"])
    with factory() as session:
        late = product_service.overdue(
            session=session, actor=coordinator(), now=due + timedelta(minutes=1)
        )
        assert [(o.missed, o.due_at) for o in late] == [("resolution", due)]

    # The board shows the coordinator a missed time with its due time, on the wall clock.
    assert client.post(f"{tickets}/resolve", headers=auth(keys, "technician")).is_success
    client.patch(
        f"/api/products/{serial}/contract",
        json={"response_hours": 0.0001},  # 0.36 s
        headers=auth(keys, "coordinator"),
    )
    missed = client.post(path, json={"title": "Stopped again"}, headers=auth(keys, "alice")).json()
    client.cookies.set("glonet_key", keys["coordinator"])
    wait_until(
        lambda: (
            f'data-ticket="{missed["id"]}"' in client.get("/maintenance").text
            and "response overdue" in client.get("/maintenance").text
        ),
        10,
        "the missed response on the board",
    )
    listed = client.get("/api/service-levels/overdue", headers=auth(keys, "coordinator")).json()
    assert [(o["ticket_id"], o["missed"], o["serial"]) for o in listed] == [
        (missed["id"], "response", serial)
    ]
    board = client.get("/maintenance").text
    due = datetime.fromisoformat(listed[0]["due_at"].replace("Z", "+00:00"))
    assert f'response overdue: was due <time datetime="{due:%Y-%m-%dT%H:%M}' in board
