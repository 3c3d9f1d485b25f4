"""Co-design, quotes and orders through the HTTP API: revisions, validation, access, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.config import Settings
from cloud.main import create_app
from tests.cloud.orders.network import ROBOT_CELL, auth, build_network, served


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with served(settings) as served_api:
        yield served_api


def configure(client: TestClient, keys: dict[str, str], who: str = "alice", **values: Any) -> Any:
    response = client.post(
        "/api/configurations",
        json={"family_id": "robotic-cell", "values": {**ROBOT_CELL, **values}, "comment": "first"},
        headers=auth(keys, who),
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_revisions_record_who_what_and_why_and_explain_problems(api: Any) -> None:
    client, keys = api
    created = configure(client, keys)
    assert created["revision"]["valid"] and created["customer_id"] == "alice"

    bad = client.post(
        f"/api/configurations/{created['id']}/revisions",
        json={"values": {"payload_kg": 30}, "comment": "heavier parts", "base_revision": 1},
        headers=auth(keys, "coordinator"),
    ).json()
    revision = bad["revision"]
    assert revision["number"] == 2 and not revision["valid"]
    assert revision["author_role"] == "coordinator" and revision["comment"] == "heavier parts"
    assert revision["changes"] == [{"option": "payload_kg", "before": 12, "after": 30}]
    assert any("reinforced base" in p["message"] for p in revision["problems"])
    assert bad["allowed"]["base"]["values"] == ["reinforced"]

    fixed = client.post(
        f"/api/configurations/{created['id']}/revisions",
        json={"values": {"base": "reinforced"}, "comment": "as the engineer said"},
        headers=auth(keys, "alice"),
    ).json()
    assert fixed["revision"]["valid"] and fixed["revision"]["number"] == 3

    stale = client.post(
        f"/api/configurations/{created['id']}/revisions",
        json={"values": {"vision": True}, "base_revision": 2},
        headers=auth(keys, "alice"),
    )
    assert stale.status_code == 409

    history = client.get(
        f"/api/configurations/{created['id']}/revisions", headers=auth(keys, "alice")
    ).json()
    assert [r["author_role"] for r in history] == ["customer", "coordinator", "customer"]


def test_quote_confirm_and_order_lifecycle_fields(api: Any) -> None:
    client, keys = api
    created = configure(client, keys)
    before = datetime.now(UTC)
    quote = client.post(
        "/api/quotes", json={"configuration_id": created["id"]}, headers=auth(keys, "alice")
    )
    assert quote.status_code == 201, quote.text
    body = quote.json()
    assert body["price"] > 0 and body["currency"] == "EUR"
    promised = datetime.fromisoformat(body["promised_at"])
    work_s = max(op["duration_s"] for op in body["work"]["operations"])
    assert promised >= before + timedelta(seconds=work_s)
    assert datetime.fromisoformat(body["valid_until"]) > before

    order = client.post(f"/api/quotes/{body['id']}/confirm", headers=auth(keys, "alice"))
    assert order.status_code == 201, order.text
    order_body = order.json()
    assert order_body["status"] == "confirmed"
    assert order_body["promised_at"] == body["promised_at"]
    steps = [op["step"] for op in order_body["operations"]]
    assert "test" in steps and "cut-fence-panels" in steps

    again = client.post(f"/api/quotes/{body['id']}/confirm", headers=auth(keys, "alice"))
    assert again.status_code == 409


def test_a_customer_sees_only_their_own_configurations_quotes_orders(api: Any) -> None:
    client, keys = api
    created = configure(client, keys)
    quote = client.post(
        "/api/quotes", json={"configuration_id": created["id"]}, headers=auth(keys, "alice")
    ).json()
    order = client.post(f"/api/quotes/{quote['id']}/confirm", headers=auth(keys, "alice")).json()

    for url in (
        f"/api/configurations/{created['id']}",
        f"/api/configurations/{created['id']}/revisions",
        f"/api/quotes/{quote['id']}",
        f"/api/orders/{order['id']}",
    ):
        assert client.get(url, headers=auth(keys, "bob")).status_code == 404, url
        assert client.get(url, headers=auth(keys, "alice")).status_code == 200, url
    assert client.get("/api/orders", headers=auth(keys, "bob")).json() == []
    assert client.get("/api/configurations", headers=auth(keys, "bob")).json() == []
    stolen = client.post(f"/api/quotes/{quote['id']}/confirm", headers=auth(keys, "bob"))
    assert stolen.status_code == 404
    revise = client.post(
        f"/api/configurations/{created['id']}/revisions",
        json={"values": {"vision": True}},
        headers=auth(keys, "bob"),
    )
    assert revise.status_code == 404
    assert client.get("/api/orders", headers=auth(keys, "metal")).status_code == 403
    assert client.get("/api/configurations", headers=auth(keys, "metal")).status_code == 403
    assert client.get("/api/dispatched-operations", headers=auth(keys, "alice")).status_code == 403
    impersonate = client.post(
        "/api/configurations",
        json={"family_id": "robotic-cell", "customer_id": "alice"},
        headers=auth(keys, "bob"),
    )
    assert impersonate.status_code == 403


def test_a_coordinator_configures_only_for_a_customer_the_network_knows(api: Any) -> None:
    """An unknown customer id (the configurator's old default ``cust-demo``) is a 422 naming the
    field, and nothing is stored; a customer with a key is accepted."""
    client, keys = api
    coordinator = auth(keys, "coordinator")
    for unknown in ("cust-demo", "ALICE", ""):
        refused = client.post(
            "/api/configurations",
            json={"family_id": "robotic-cell", "values": ROBOT_CELL, "customer_id": unknown},
            headers=coordinator,
        )
        assert refused.status_code == 422, (unknown, refused.text)
        assert "customer" in refused.json()["message"]
    assert client.get("/api/configurations", headers=coordinator).json() == []
    accepted = client.post(
        "/api/configurations",
        json={"family_id": "robotic-cell", "values": ROBOT_CELL, "customer_id": "bob"},
        headers=coordinator,
    )
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["customer_id"] == "bob"
    assert [
        c["id"] for c in client.get("/api/configurations", headers=auth(keys, "bob")).json()
    ] == [accepted.json()["id"]]


def test_a_duplicate_is_a_new_configuration_from_a_saved_revision(api: Any) -> None:
    """Duplicating copies one revision's values (the current one unless named) into a new
    configuration of the same customer; the original keeps every revision; another customer
    can neither duplicate nor see it."""
    client, keys = api
    original = configure(client, keys)
    revised = client.post(
        f"/api/configurations/{original['id']}/revisions",
        json={"values": {"payload_kg": 30, "base": "reinforced"}, "comment": "heavier"},
        headers=auth(keys, "alice"),
    ).json()
    assert revised["revision"]["number"] == 2

    copy = client.post(
        f"/api/configurations/{original['id']}/duplicate", headers=auth(keys, "alice")
    )
    assert copy.status_code == 201, copy.text
    body = copy.json()
    assert body["id"] != original["id"] and body["customer_id"] == "alice"
    assert body["family_id"] == "robotic-cell" and body["title"] == f"Copy of {original['title']}"
    assert body["revision"]["number"] == 1 and body["revision"]["valid"]
    assert body["revision"]["values"] == revised["revision"]["values"]
    assert f"{original['id']} revision 2" in body["revision"]["comment"]

    first = client.post(
        f"/api/configurations/{original['id']}/duplicate",
        json={"revision": 1, "title": "Light cell"},
        headers=auth(keys, "coordinator"),
    ).json()
    assert first["customer_id"] == "alice" and first["title"] == "Light cell"
    assert first["revision"]["values"] == original["revision"]["values"]
    assert first["revision"]["author_role"] == "coordinator"

    kept = client.get(
        f"/api/configurations/{original['id']}/revisions", headers=auth(keys, "alice")
    )
    assert [r["number"] for r in kept.json()] == [1, 2]
    mine = {c["id"] for c in client.get("/api/configurations", headers=auth(keys, "alice")).json()}
    assert mine == {original["id"], body["id"], first["id"]}

    stolen = client.post(
        f"/api/configurations/{original['id']}/duplicate", headers=auth(keys, "bob")
    )
    assert stolen.status_code == 404
    assert client.get("/api/configurations", headers=auth(keys, "bob")).json() == []
    for payload, status in (({"revision": 9}, 404), ({"revision": 0}, 422), ({"x": 1}, 422)):
        answer = client.post(
            f"/api/configurations/{original['id']}/duplicate",
            json=payload,
            headers=auth(keys, "alice"),
        )
        assert answer.status_code == status, (payload, answer.text)
    assert len(client.get("/api/configurations", headers=auth(keys, "alice")).json()) == 3
    assert (
        client.post(
            f"/api/configurations/{original['id']}/duplicate", headers=auth(keys, "metal")
        ).status_code
        == 403
    )


def test_the_customer_home_lists_only_its_own(api: Any) -> None:
    """``/`` for a customer: its configurations, quotes, orders and service requests; another
    customer's never appear."""
    client, keys = api
    mine = configure(client, keys, "alice")
    theirs = configure(client, keys, "bob")
    quote = client.post(
        "/api/quotes", json={"configuration_id": mine["id"]}, headers=auth(keys, "alice")
    ).json()
    order = client.post(f"/api/quotes/{quote['id']}/confirm", headers=auth(keys, "alice")).json()
    other_quote = client.post(
        "/api/quotes", json={"configuration_id": theirs["id"]}, headers=auth(keys, "bob")
    ).json()

    client.cookies.set("glonet_key", keys["alice"])
    home = client.get("/", follow_redirects=False)
    client.cookies.clear()
    assert home.status_code == 200, home.text
    html = home.text
    assert f'data-configuration="{mine["id"]}"' in html
    assert f"/configurator?configuration={mine['id']}" in html  # reopen
    assert f'data-quote="{quote["id"]}"' in html and f'data-order="{order["id"]}"' in html
    for other in (theirs["id"], other_quote["id"]):
        assert other not in html
    assert "No service requests." in html and "No products yet" in html


@pytest.mark.parametrize(
    ("method", "url", "payload", "status"),
    [
        ("post", "/api/configurations", {"family_id": "no-such-family"}, 404),
        ("post", "/api/configurations", {"family_id": "robotic-cell", "values": [1]}, 422),
        ("post", "/api/configurations", {"family_id": "robotic-cell", "surprise": 1}, 422),
        ("post", "/api/quotes", {"configuration_id": "cfg-missing"}, 404),
        ("post", "/api/quotes/q-missing/confirm", None, 404),
        ("get", "/api/orders/ord-missing", None, 404),
        ("post", "/api/families/robotic-cell/check", {"payload_kg": "heavy"}, 200),
        ("post", "/api/families/robotic-cell/check", ["not", "a", "mapping"], 422),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    api: Any, method: str, url: str, payload: Any, status: int
) -> None:
    client, keys = api
    response = client.request(method, url, json=payload, headers=auth(keys, "alice"))
    assert response.status_code == status, response.text
    if status >= 400:
        assert response.json()["message"]


def test_an_invalid_revision_gets_no_quote(api: Any) -> None:
    client, keys = api
    created = configure(client, keys, payload_kg=30)
    assert not created["revision"]["valid"]
    response = client.post(
        "/api/quotes", json={"configuration_id": created["id"]}, headers=auth(keys, "alice")
    )
    assert response.status_code == 422
    assert "reinforced base" in response.json()["message"]


def test_a_step_no_machine_can_do_is_explained(api: Any) -> None:
    client, keys = api
    created = configure(client, keys, payload_kg=30, base="reinforced", reach_mm=1000)
    context = client.app.state.context
    from cloud.database import transaction
    from cloud.registry.models import Machine

    with transaction(context.session_factory) as session:
        for row in session.query(Machine).filter(Machine.machine == "laser-1"):
            row.capabilities = [{"process": "laser_cutting", "parameters": {}}]
    response = client.post(
        "/api/quotes", json={"configuration_id": created["id"]}, headers=auth(keys, "alice")
    )
    assert response.status_code == 422
    assert "max_thickness_steel_mm ≥ 12" in response.json()["message"]


def test_an_expired_quote_cannot_be_confirmed(settings_factory: Any) -> None:
    settings = settings_factory(orders={"quote_validity_s": 0.001})
    with TestClient(create_app(settings)) as client:
        keys = build_network(client.app.state.context)  # type: ignore[attr-defined]
        created = configure(client, keys)
        quote = client.post(
            "/api/quotes", json={"configuration_id": created["id"]}, headers=auth(keys, "alice")
        ).json()
        response = client.post(f"/api/quotes/{quote['id']}/confirm", headers=auth(keys, "alice"))
        assert response.status_code == 409
        assert "expired" in response.json()["message"]


VALUE = st.one_of(
    st.booleans(),
    st.integers(-100, 5000),
    st.floats(-1e4, 1e4, allow_nan=False),
    st.sampled_from(["standard", "reinforced", "mobile", "fence", "vacuum", "ral7035", ""]),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    values=st.dictionaries(
        st.sampled_from(["payload_kg", "reach_mm", "base", "gripper", "safety", "vision", "x"]),
        VALUE,
        max_size=6,
    )
)
def test_any_configuration_through_the_api_is_valid_or_explained(
    api: Any, values: dict[str, Any]
) -> None:
    client, keys = api
    response = client.post(
        "/api/families/robotic-cell/check", json=values, headers=auth(keys, "alice")
    )
    assert response.status_code == 200
    body = response.json()
    if body["valid"]:
        assert body["price"] > 0 and not body["problems"]
    else:
        assert body["problems"] and all(p["message"] for p in body["problems"])
