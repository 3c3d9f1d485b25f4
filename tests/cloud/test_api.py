"""API behaviour: JSON errors with field details, body limits, registry CRUD and onboarding."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.cloud.conftest import Tenants


def test_bad_bodies_get_422_with_field_errors(client: TestClient, tenants: Tenants) -> None:
    body = {"id": "bad id!", "network_id": "x", "company": "", "latitude": 91, "longitude": 0}
    response = client.post("/api/units", json=body, headers=tenants.headers("coordinator"))
    assert response.status_code == 422
    payload = response.json()
    assert payload["error"] == "validation_failed"
    fields = {f["field"] for f in payload["fields"]}
    assert {"body.id", "body.company", "body.latitude"} <= fields


def test_malformed_json_and_wrong_types_are_422_not_500(
    client: TestClient, tenants: Tenants
) -> None:
    headers = {**tenants.headers("coordinator"), "Content-Type": "application/json"}
    for raw in (b"{", b"[]", b"null", b'{"id": 1}'):
        response = client.post("/api/units", content=raw, headers=headers)
        assert response.status_code == 422, raw
        assert response.json()["error"] == "validation_failed"
    undecodable = client.post("/api/units", content=b"\xff", headers=headers)
    assert undecodable.status_code == 422 and undecodable.json()["error"] == "validation_failed"
    hours = client.get("/api/machines/plant-a/m1/rollups?minutes=-1", headers=headers)
    assert hours.status_code == 422


def test_oversized_bodies_are_refused(client: TestClient, tenants: Tenants) -> None:
    headers = tenants.headers("coordinator")
    big = {"id": "u", "network_id": "x", "company": "c" * 2_000_000, "latitude": 0, "longitude": 0}
    response = client.post("/api/units", json=big, headers=headers)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"

    def chunks():  # no Content-Length: the limit applies to what is streamed
        for _ in range(40):
            yield b"x" * 65536

    streamed = client.post("/api/units", content=chunks(), headers=headers)
    assert streamed.status_code == 413


def test_unknown_routes_and_methods_answer_json(client: TestClient) -> None:
    assert client.get("/api/nothing").json()["error"] == "not_found"
    response = client.put("/healthz")
    assert response.status_code == 405 and response.json()["error"] == "method_not_allowed"


def test_onboard_update_and_remove_a_unit(client: TestClient, tenants: Tenants) -> None:
    headers = tenants.headers("coordinator")
    network = client.app.state.context.settings.network  # type: ignore[attr-defined]
    spec = {
        "id": "weld-co",
        "network_id": network,
        "company": "Weld Co",
        "site": "Brescia",
        "latitude": 45.54,
        "longitude": 10.21,
        "certifications": ["ISO 9001"],
        "processes": [{"process": "welding", "parameters": {"max_thickness_mm": 12}}],
        "sharing_policy": {"share_capacity": True, "hourly_rate": 65.0},
    }
    assert client.post("/api/units", json=spec, headers=headers).status_code == 201
    assert client.post("/api/units", json=spec, headers=headers).status_code == 409
    changed = client.patch("/api/units/weld-co", json={"site": "Bergamo"}, headers=headers)
    assert changed.json()["site"] == "Bergamo"
    assert changed.json()["processes"][0]["parameters"] == {"max_thickness_mm": 12}
    assert changed.json()["country"] is None  # not given: unknown
    # A country is an assigned ISO 3166-1 alpha-2 code; anything else is a 422 that changes nothing.
    placed = client.patch("/api/units/weld-co", json={"country": "IT"}, headers=headers)
    assert placed.status_code == 200 and placed.json()["country"] == "IT"
    for bad in ("XX", "it", "ITA", "Italy", 39):
        refused = client.patch("/api/units/weld-co", json={"country": bad}, headers=headers)
        assert refused.status_code == 422, bad
        assert [f["field"] for f in refused.json()["fields"]] == ["body.country"], refused.text
    assert client.get("/api/units/weld-co", headers=headers).json()["country"] == "IT"
    unknown = client.post("/api/units", json={**spec, "id": "x3", "country": "ZZ"}, headers=headers)
    assert unknown.status_code == 422 and "ISO 3166-1" in unknown.text
    assert client.get("/api/units/x3", headers=headers).status_code == 404
    cleared = client.patch("/api/units/weld-co", json={"country": None}, headers=headers)
    assert cleared.status_code == 200 and cleared.json()["country"] is None
    unknown_network = client.post(
        "/api/units", json={**spec, "id": "x2", "network_id": "nope"}, headers=headers
    )
    assert unknown_network.status_code == 422
    reserved = client.post("/api/units", json={**spec, "id": "coordinator"}, headers=headers)
    assert reserved.status_code == 422
    assert client.delete("/api/units/weld-co", headers=headers).status_code == 204
    assert client.get("/api/units/weld-co", headers=headers).status_code == 404


def test_transport_times_given_or_derived_from_distance(
    client: TestClient, tenants: Tenants
) -> None:
    headers = tenants.headers("coordinator")
    client.patch("/api/units/plant-b", json={"latitude": 45.9}, headers=headers)
    derived = client.get("/api/transport-times/plant-a/plant-b", headers=headers).json()
    assert derived["derived"] is True and 1.5 < derived["hours"] < 2.5  # ~100 km by road
    given = {"from_unit_id": "plant-a", "to_unit_id": "plant-b", "hours": 3.5}
    assert client.put("/api/transport-times", json=given, headers=headers).status_code == 200
    read = client.get("/api/transport-times/plant-a/plant-b", headers=headers).json()
    assert read == {**given, "derived": False}


def test_technicians_and_networks_crud(client: TestClient, tenants: Tenants) -> None:
    headers = tenants.headers("coordinator")
    hours = [{"weekday": 0, "start": "08:00", "end": "17:00"}]
    tech = {
        "id": "t1",
        "name": "Ada",
        "employer_unit_id": "plant-a",
        "skills": ["hydraulics"],
        "home_latitude": 45,
        "home_longitude": 9,
        "working_hours": hours,
    }
    assert client.post("/api/technicians", json=tech, headers=headers).status_code == 201
    bad_hours = client.patch(
        "/api/technicians/t1",
        json={"working_hours": [{"weekday": 9, "start": "8", "end": "x"}]},
        headers=headers,
    )
    assert bad_hours.status_code == 422 and len(bad_hours.json()["fields"]) == 3
    network = {"id": "jv-1", "name": "Solar JV", "kind": "temporary_joint_venture"}
    assert client.post("/api/networks", json=network, headers=headers).status_code == 201
    assert (
        client.post(
            "/api/networks", json={**network, "id": "x", "kind": "club"}, headers=headers
        ).status_code
        == 422
    )
    assert client.delete("/api/networks/jv-1", headers=headers).status_code == 204


def test_machine_static_data_survives_a_new_birth(client: TestClient, tenants: Tenants) -> None:
    from cloud.database import transaction
    from cloud.registry import service

    headers = tenants.headers("plant-a")
    changed = client.patch(
        "/api/machines/plant-a/m1", json={"static_data": {"hourly_cost": 42.0}}, headers=headers
    )
    assert changed.status_code == 200
    context = client.app.state.context  # type: ignore[attr-defined]
    with transaction(context.session_factory) as session:
        service.record_birth(
            session=session, unit_id="plant-a", machines=[{"machine": "m1", "name": "Mill v2"}]
        )
    machine = client.get("/api/machines/plant-a/m1", headers=headers).json()
    assert machine["name"] == "Mill v2"
    detail = client.get("/api/units/plant-a", headers=headers).json()
    assert detail["id"] == "plant-a"


def test_issue_mqtt_credentials_returns_a_password_once(
    client: TestClient, tenants: Tenants
) -> None:
    response = client.post(
        "/api/units/plant-a/mqtt-credentials", headers=tenants.headers("plant-a")
    )
    assert response.status_code == 201
    assert response.json()["username"] == "plant-a" and len(response.json()["password"]) >= 24
    unit = client.get("/api/units/plant-a", headers=tenants.headers("plant-a")).json()
    assert unit["has_mqtt_credentials"] is True
    assert "password" not in unit and "mqtt_password_hash" not in unit


def test_health_metrics_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    text = client.get("/metrics").text
    assert "# TYPE glonet_ingest_rejects_total counter" in text
    assert "glonet_http_request_seconds_bucket" in text
    assert "/api/machines" in client.get("/openapi.json").json()["paths"]
    assert client.get("/docs").status_code == 200


def test_a_plant_calendar_is_set_read_and_removed(client: TestClient, tenants: Tenants) -> None:
    calendar = {
        "timezone": "Europe/Rome",
        "shifts": [{"weekday": day, "start": "06:00", "end": "22:00"} for day in range(5)],
        "holidays": ["2026-12-08"],
        "openings": [{"date": "2026-12-12", "start": "06:00", "end": "12:00"}],
        "lights_out": ["laser-1"],
    }
    plant = tenants.headers("plant-a")
    assert client.get("/api/units/plant-a/calendar", headers=plant).status_code == 404
    assert (
        client.put("/api/units/plant-a/calendar", json=calendar, headers=plant).status_code == 200
    )
    read = client.get("/api/units/plant-a/calendar", headers=tenants.headers("coordinator")).json()
    assert {k: read[k] for k in calendar} == calendar and read["unit_id"] == "plant-a"
    # A plant sets only its own calendar.
    other = client.put("/api/units/plant-b/calendar", json=calendar, headers=plant)
    assert other.status_code == 404
    assert client.delete("/api/units/plant-a/calendar", headers=plant).status_code == 204
    assert client.get("/api/units/plant-a/calendar", headers=plant).status_code == 404


def test_plant_operators_are_set_listed_and_removed(client: TestClient, tenants: Tenants) -> None:
    welder = {
        "name": "Luca Bianchi",
        "skills": ["welding", "bending"],
        "shifts": [{"weekday": day, "start": "06:00", "end": "14:00"} for day in range(5)],
    }
    plant = tenants.headers("plant-a")
    answer = client.put("/api/units/plant-a/operators/luca", json=welder, headers=plant)
    assert answer.status_code == 200, answer.text
    listed = client.get("/api/units/plant-a/operators", headers=tenants.headers("coordinator"))
    (read,) = listed.json()
    assert {k: read[k] for k in welder} == welder and read["operator_id"] == "luca"
    # A plant sets only its own operators; a roster follows the calendar's rules.
    other = client.put("/api/units/plant-b/operators/luca", json=welder, headers=plant)
    assert other.status_code == 404
    overlapping = {**welder, "shifts": [*welder["shifts"], welder["shifts"][0]]}
    bad = client.put("/api/units/plant-a/operators/luca", json=overlapping, headers=plant)
    assert bad.status_code == 422 and "overlaps" in bad.text
    assert client.delete("/api/units/plant-a/operators/luca", headers=plant).status_code == 204
    assert client.get("/api/units/plant-a/operators", headers=plant).json() == []


def test_a_bad_calendar_gets_422_naming_the_fault(client: TestClient, tenants: Tenants) -> None:
    headers = tenants.headers("coordinator")
    shift = {"weekday": 0, "start": "06:00", "end": "14:00"}
    for body, fault in [
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"timezone": "UTC", "shifts": [{**shift, "start": "25:00"}]}, "HH:MM"),
        ({"timezone": "UTC", "shifts": [shift, {**shift, "start": "13:00"}]}, "overlaps"),
        ({"timezone": "UTC", "shifts": [{**shift, "weekday": 7}]}, "less than or equal to 6"),
        (
            {
                "timezone": "UTC",
                "openings": [{"date": "2026-12-12", "start": "12:00", "end": "08:00"}],
            },
            "must be after",
        ),
    ]:
        answer = client.put("/api/units/plant-a/calendar", json=body, headers=headers)
        assert answer.status_code == 422, body
        assert fault in answer.text, answer.text


def test_a_machines_speed_factor_must_be_a_positive_number(
    client: TestClient, tenants: Tenants
) -> None:
    headers = tenants.headers("coordinator")
    machine = {"machine": "weld-9", "name": "TIG cell"}
    for bad in (-1, 0, "fast", True, 101):
        body = {**machine, "static_data": {"speed_factor": bad}}
        answer = client.post("/api/units/plant-a/machines", json=body, headers=headers)
        assert answer.status_code == 422 and "speed_factor" in answer.text, bad
    body = {**machine, "static_data": {"speed_factor": 1.3}}
    assert client.post("/api/units/plant-a/machines", json=body, headers=headers).status_code == 201
