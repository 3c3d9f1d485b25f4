"""Regression tests for the classes of unhandled 500s schemathesis found (test_openapi_fuzz):
each is now a 422 that names the field, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloud.main import api_app
from tests.cloud.conftest import Tenants

JSON = {"Content-Type": "application/json"}


def refused(response: Any, field: str, words: str) -> None:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_failed"
    assert any(f["field"] == field and words in f["message"] for f in body["fields"]), body


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/networks/{network}", "name"),
        ("/api/units/plant-a", "company"),
        ("/api/units/plant-a", "sharing_policy"),
        ("/api/machines/plant-a/m1", "name"),
        ("/api/technicians/tech-plant-a", "home_latitude"),
    ],
)
def test_patch_with_null_for_a_field_that_cannot_be_empty_is_422(
    client: TestClient, tenants: Tenants, path: str, field: str
) -> None:
    url = path.format(network=tenants.context.settings.network)
    response = client.patch(url, json={field: None}, headers=tenants.headers("coordinator"))
    refused(response, f"body.{field}", "")
    assert client.get(url, headers=tenants.headers("coordinator")).json()[field] is not None


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", f"/api/ingest/dead-letters/{2**64}/retry"),
        ("DELETE", f"/api/ingest/dead-letters/{2**64}"),
        ("DELETE", f"/api/principals/{2**31}"),
        ("GET", f"/api/maintenance/tickets/{2**63}"),
    ],
)
def test_an_integer_id_beyond_the_databases_range_is_422(
    client: TestClient, tenants: Tenants, method: str, path: str
) -> None:
    response = client.request(method, path, headers=tenants.headers("coordinator"))
    assert response.status_code == 422, response.text
    assert response.json()["fields"][0]["field"].startswith("path.")


@pytest.mark.parametrize(
    ("number", "words"),
    [("1e400", "finite"), ("NaN", "finite"), ("-Infinity", "finite"), ("1" + "0" * 400, "64-bit")],
)
def test_an_unrepresentable_number_in_configuration_values_is_422(
    client: TestClient, tenants: Tenants, number: str, words: str
) -> None:
    body = f'{{"family_id": "robotic-cell", "values": {{"payload_kg": {number}}}}}'
    response = client.post(
        "/api/configurations", content=body, headers={**JSON, **tenants.headers("customer")}
    )
    refused(response, "body.values.payload_kg", words)


@pytest.mark.parametrize(("text", "words"), [("\\u0000", "NUL"), ("Acme\\ud800", "lone surrogate")])
def test_nul_and_lone_surrogates_in_body_strings_and_keys_are_422(
    client: TestClient, tenants: Tenants, text: str, words: str
) -> None:
    headers = {**JSON, **tenants.headers("coordinator")}
    response = client.patch(
        "/api/units/plant-a", content=f'{{"company": "{text}"}}', headers=headers
    )
    refused(response, "body.company", words)
    keyed = client.patch(
        "/api/machines/plant-a/m1", content=f'{{"static_data": {{"{text}": 1}}}}', headers=headers
    )
    assert keyed.status_code == 422, keyed.text
    assert words in keyed.json()["message"]


def test_a_body_nested_too_deeply_is_422(client: TestClient, tenants: Tenants) -> None:
    headers = {**JSON, **tenants.headers("coordinator")}
    deep = "[" * 5000 + "]" * 5000
    response = client.patch("/api/units/plant-a", content=deep, headers=headers)
    refused(response, "body", "nested too deeply")


def test_nul_in_the_path_or_query_is_422_on_every_database(
    client: TestClient, tenants: Tenants
) -> None:
    headers = tenants.headers("coordinator")
    refused(client.get("/api/units/plant%00a", headers=headers), "path", "NUL")
    refused(client.get("/api/units?network_id=a%00b", headers=headers), "query.network_id", "NUL")


def test_a_webhook_url_longer_than_its_column_is_422_on_every_database(
    client: TestClient, tenants: Tenants
) -> None:
    headers = tenants.headers("coordinator")
    # The second is 500 characters as sent, 501 once normalised (a trailing slash).
    host_only = "https://" + ".".join(["a" * 63] * 7) + "." + "a" * 44
    for url in ("https://hooks.example/" + "a" * 500, host_only):
        response = client.post("/api/maintenance/webhooks", json={"url": url}, headers=headers)
        refused(response, "body.url", "at most 500")


def test_every_api_operation_declares_its_errors_with_the_error_model() -> None:
    document = api_app().openapi()
    error_model = {"$ref": "#/components/schemas/ErrorAnswer"}
    for path, operations in document["paths"].items():
        if not path.startswith("/api/"):
            continue
        for method, operation in operations.items():
            responses = operation["responses"]
            expected = {"401", "403", "422", "503"} | ({"404"} if "{" in path else set())
            expected |= {"413"} if method in ("post", "put", "patch") else set()
            assert expected <= set(responses), (method, path, sorted(responses))
            for code in expected:
                schema = responses[code]["content"]["application/json"]["schema"]
                assert schema == error_model, (method, path, code)
