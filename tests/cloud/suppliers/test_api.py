"""Suppliers through the HTTP API: the registry, matching, purchases from a confirmation, the
plan waiting for them, deliveries and delays (a second delivery is a clear 409)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloud.config import Settings, load_settings
from cloud.context import AppContext
from cloud.database import transaction
from cloud.dispatch import flows as dispatch_flows
from cloud.dispatch import service as dispatch_service
from cloud.main import create_app
from cloud.orders.models import Quote
from tests.cloud.orders.network import ROBOT_CELL, auth, build_network, served
from tests.conftest import fresh_postgres_database

LOCAL = {
    "id": "emilia-steel",
    "company": "Emilia Steel",
    "site": "Bologna",
    "latitude": 44.55,
    "longitude": 11.40,
    "country": "IT",
    "local": True,
    "offers": {
        "steel-plate": {"unit_price": 190, "lead_time_days": 2},
        "cabinet": {"unit_price": 2700, "lead_time_days": 1},
    },
}
FAR = {
    "id": "ruhr-stahl",
    "company": "Ruhr Stahl",
    "latitude": 51.45,
    "longitude": 7.01,
    "country": "DE",
    "offers": {
        "steel-plate": {"unit_price": 150, "lead_time_days": 3},
        "robot-arm": {"unit_price": 14000, "lead_time_days": 4, "description": "6-axis arm"},
    },
}


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]
    context: AppContext

    def call(self, who: str, method: str, url: str, **kwargs: Any) -> Any:
        return self.client.request(method, url, headers=auth(self.keys, who), **kwargs)

    def replan(self) -> None:
        with transaction(self.context.session_factory) as session:
            dispatch_flows.replan(
                session=session,
                network_id=self.context.settings.network,
                settings=self.context.settings.orders,
                now=datetime.now(UTC),
            )

    def replan_asked(self) -> bool:
        with transaction(self.context.session_factory) as session:
            network = self.context.settings.network
            return dispatch_service.get_state(session=session, network_id=network).replan_requested


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("suppliers")
    with _database(request.param, tmp) as url:
        settings = load_settings(
            None,
            network="net-suppliers",
            data_dir=tmp,
            database_url=url,
            ingest={"enabled": False},
            events={"bus": "off"},
            orders={"dispatch_enabled": False},
        )
        with TestClient(create_app(settings)) as client:
            context: AppContext = client.app.state.context  # type: ignore[attr-defined]
            api = Api(client, build_network(context), context)
            for spec in (LOCAL, FAR):
                created = api.call("coordinator", "POST", "/api/suppliers", json=spec)
                assert created.status_code == 201, created.text
            yield api


class _database:
    def __init__(self, kind: str, tmp: Path) -> None:
        self._kind, self._tmp = kind, tmp
        self._postgres: Any = None

    def __enter__(self) -> str:
        if self._kind == "sqlite":
            return f"sqlite:///{self._tmp / 'coordinator.sqlite'}"
        self._postgres = fresh_postgres_database()
        return str(self._postgres.__enter__())

    def __exit__(self, *exc: Any) -> None:
        if self._postgres is not None:
            self._postgres.__exit__(*exc)


def test_the_registry_is_the_coordinators(api: Api) -> None:
    again = api.call("coordinator", "POST", "/api/suppliers", json=LOCAL)
    assert again.status_code == 409 and "already exists" in again.json()["message"]
    listed = api.call("coordinator", "GET", "/api/suppliers").json()
    assert [s["id"] for s in listed] == ["emilia-steel", "ruhr-stahl"]
    assert {o["item"] for o in listed[1]["offers"]} == {"robot-arm", "steel-plate"}

    scratch = {**FAR, "id": "scratch", "offers": {}}
    assert api.call("coordinator", "POST", "/api/suppliers", json=scratch).status_code == 201
    offer = {"unit_price": 99.5, "currency": "EUR", "lead_time_days": 0.5}
    put = api.call("coordinator", "PUT", "/api/suppliers/scratch/offers/fence-panel", json=offer)
    assert put.status_code == 200 and put.json()["item"] == "fence-panel"
    patched = api.call("coordinator", "PATCH", "/api/suppliers/scratch", json={"local": True})
    assert patched.json()["local"] and patched.json()["offers"][0]["unit_price"] == 99.5
    gone = api.call("coordinator", "DELETE", "/api/suppliers/scratch/offers/fence-panel")
    assert gone.status_code == 204
    assert api.call("coordinator", "DELETE", "/api/suppliers/scratch").status_code == 204
    assert api.call("coordinator", "GET", "/api/suppliers/scratch").status_code == 404

    for who in ("alice", "metal"):
        assert api.call(who, "GET", "/api/suppliers").status_code == 403
        assert api.call(who, "GET", "/api/suppliers/emilia-steel").status_code == 403


def test_matching_local_first_under_a_rule(api: Api) -> None:
    body = {
        "materials": [
            {"item": "steel-plate", "quantity": 0.8, "unit": "m2"},
            {"item": "camera", "quantity": 1},
        ],
        "site": {"latitude": 44.494, "longitude": 11.343, "country": "IT"},
    }
    cheapest = api.call("coordinator", "POST", "/api/suppliers/match", json=body).json()
    assert cheapest[0]["supplier_id"] == "ruhr-stahl" and cheapest[0]["price"] == 120
    assert cheapest[1]["supplier_id"] is None
    assert cheapest[1]["reasons"] == ["no supplier offers camera"]

    local = api.call(
        "coordinator", "POST", "/api/suppliers/match", json={**body, "rule": {"within_km": 30}}
    ).json()
    assert local[0]["supplier_id"] == "emilia-steel" and local[0]["local"]
    no_site = {"materials": body["materials"], "rule": {"within_km": 30}}
    refused = api.call("coordinator", "POST", "/api/suppliers/match", json=no_site)
    assert refused.status_code == 422 and "delivery site" in refused.json()["message"]


def _order(api: Api) -> tuple[dict[str, Any], datetime]:
    configuration = api.call(
        "alice",
        "POST",
        "/api/configurations",
        json={"family_id": "robotic-cell", "values": ROBOT_CELL},
    ).json()
    quote = api.call(
        "alice", "POST", "/api/quotes", json={"configuration_id": configuration["id"]}
    ).json()
    before = datetime.now(UTC)
    order = api.call("alice", "POST", f"/api/quotes/{quote['id']}/confirm")
    assert order.status_code == 201, order.text
    return order.json(), before


def _starts(api: Api, order_id: str) -> dict[str, datetime]:
    order = api.call("coordinator", "GET", f"/api/orders/{order_id}").json()
    return {
        op["step"]: datetime.fromisoformat(op["planned_setup_start"] or op["planned_start"])
        for op in order["operations"]
    }


def test_purchases_release_the_steps_that_need_them(api: Api) -> None:
    order, confirmed = _order(api)
    purchases = api.call("coordinator", "GET", f"/api/purchases?order_id={order['id']}").json()
    by_item = {p["item"]: p for p in purchases}
    # The cheapest offers; the fence panels and the camera nobody offers come from stock.
    assert set(by_item) == {"robot-arm", "steel-plate", "cabinet"}
    arm, plate = by_item["robot-arm"], by_item["steel-plate"]
    assert (arm["supplier_id"], arm["unit_price"], arm["steps"]) == (
        "ruhr-stahl",
        14000,
        ["assemble"],
    )
    assert plate["supplier_id"] == "ruhr-stahl" and plate["steps"] == ["cut-base-plates"]
    expected = datetime.fromisoformat(arm["expected_at"])
    assert confirmed + timedelta(days=4) <= expected <= datetime.now(UTC) + timedelta(days=4)
    # The quote's what-if plan already waited for the arm: its promise is past its lead time.
    assert datetime.fromisoformat(order["promised_at"]) > confirmed + timedelta(days=4)

    api.replan()
    starts = _starts(api, order["id"])
    assert starts["assemble"] >= expected
    assert starts["cut-base-plates"] >= datetime.fromisoformat(plate["expected_at"])
    assert starts["cut-fence-panels"] < expected  # no purchase gates it

    later = expected + timedelta(days=2)
    delayed = api.call(
        "coordinator",
        "POST",
        f"/api/purchases/{arm['id']}/delay",
        json={"expected_at": later.isoformat(), "reason": "strike at the port"},
    )
    assert delayed.status_code == 200 and delayed.json()["history"][-1]["event"] == "delayed"
    assert api.replan_asked()
    api.replan()
    assert _starts(api, order["id"])["assemble"] >= later


def test_a_delivery_recorded_twice_is_a_conflict_and_the_first_stands(api: Api) -> None:
    order, _ = _order(api)
    (plate,) = [
        p
        for p in api.call("coordinator", "GET", f"/api/purchases?order_id={order['id']}").json()
        if p["item"] == "steel-plate"
    ]
    url = f"/api/purchases/{plate['id']}/delivery"
    first = api.call("coordinator", "POST", url, json={"note": "2 plates, checked"})
    assert first.status_code == 200, first.text
    delivered_at = first.json()["delivered_at"]
    assert first.json()["status"] == "delivered" and api.replan_asked()

    second = api.call("coordinator", "POST", url, json={})
    assert second.status_code == 409
    assert second.json()["message"].startswith(f"purchase {plate['id']} (steel-plate) was already")
    late = api.call(
        "coordinator",
        "POST",
        f"/api/purchases/{plate['id']}/delay",
        json={"expected_at": datetime.now(UTC).isoformat()},
    )
    assert late.status_code == 409
    kept = api.call("coordinator", "GET", f"/api/purchases/{plate['id']}").json()
    assert kept["delivered_at"] == delivered_at
    assert [entry["event"] for entry in kept["history"]] == ["delivered"]
    assert kept["history"][0]["note"] == "2 plates, checked"

    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    (arm,) = [
        p
        for p in api.call("coordinator", "GET", f"/api/purchases?order_id={order['id']}").json()
        if p["item"] == "robot-arm"
    ]
    ahead = api.call(
        "coordinator", "POST", f"/api/purchases/{arm['id']}/delivery", json={"delivered_at": future}
    )
    assert ahead.status_code == 422


def test_who_sees_which_purchases(api: Api) -> None:
    order, _ = _order(api)
    api.replan()
    mine = api.call("alice", "GET", f"/api/purchases?order_id={order['id']}").json()
    assert len(mine) == 3
    assert all(p["unit_price"] is None and p["supplier_id"] is None for p in mine)
    assert api.call("bob", "GET", f"/api/purchases?order_id={order['id']}").json() == []
    assert api.call("bob", "GET", f"/api/purchases/{mine[0]['id']}").status_code == 404

    units = {
        op["step"]: op["unit_id"]
        for op in api.call("coordinator", "GET", f"/api/orders/{order['id']}").json()["operations"]
    }
    for unit in ("lead", "metal", "finish"):
        seen = api.call(unit, "GET", f"/api/purchases?order_id={order['id']}").json()
        gating = {p["item"] for p in seen}
        assert gating == {
            p["item"] for p in mine if any(units[step] == unit for step in p["steps"])
        }, unit
        assert all(p["unit_price"] is None for p in seen)
    denied = api.call("alice", "POST", f"/api/purchases/{mine[0]['id']}/delivery", json={})
    assert denied.status_code == 403


def test_the_order_page_shows_the_materials_and_the_coordinator_records_there(api: Api) -> None:
    order, _ = _order(api)
    purchases = api.call("coordinator", "GET", f"/api/purchases?order_id={order['id']}").json()
    arm = next(p for p in purchases if p["item"] == "robot-arm")
    try:
        for who in ("coordinator", "alice"):
            signed = api.client.post("/api/session", json={"api_key": api.keys[who]})
            assert signed.status_code == 204
            html = api.client.get(f"/orders/{order['id']}").text
            assert "Materials from suppliers" in html and f'data-purchase="{arm["id"]}"' in html
            coordinator = who == "coordinator"
            assert ("ruhr-stahl" in html) is coordinator and ("14000.00" in html) is coordinator
            assert ('<form class="purchase"' in html) is coordinator
    finally:
        api.client.cookies.clear()


def test_the_dispatcher_sends_no_operation_before_its_material(settings: Settings) -> None:
    """A delay recorded after the plan was made holds the operation back at once (the plan
    catches up at the next tick); its delivery lets it go."""
    settings = settings.model_copy(
        update={"orders": settings.orders.model_copy(update={"dispatch_enabled": False})}
    )
    with served(settings) as (client, keys):
        api = Api(client, keys, client.app.state.context)  # type: ignore[attr-defined]
        api.call("coordinator", "POST", "/api/suppliers", json=LOCAL)
        order, _ = _order(api)
        purchases = api.call("coordinator", "GET", f"/api/purchases?order_id={order['id']}")
        plate = next(p for p in purchases.json() if p["item"] == "steel-plate")
        now = datetime.now(UTC)

        def delay(until: datetime) -> None:
            body = {"expected_at": until.isoformat()}
            url = f"/api/purchases/{plate['id']}/delay"
            assert api.call("coordinator", "POST", url, json=body).status_code == 200

        def sent() -> set[str]:
            with transaction(api.context.session_factory) as session:
                ready = dispatch_flows.dispatch_ready(
                    session=session,
                    network_id=settings.network,
                    settings=settings.orders,
                    now=now,
                )
                found = {op.step for ops in ready.values() for op in ops}
                session.rollback()  # look, do not dispatch
            return found

        delay(now)  # the plates are in: the plan starts their cutting now
        api.replan()
        assert _starts(api, order["id"])["cut-base-plates"] <= now + timedelta(minutes=1)
        assert "cut-base-plates" in sent()
        delay(now + timedelta(days=1))
        assert "cut-base-plates" not in sent() and "cut-fence-panels" in sent()
        url = f"/api/purchases/{plate['id']}/delivery"
        assert api.call("coordinator", "POST", url, json={}).status_code == 200
        assert "cut-base-plates" in sent()


def test_a_line_the_quote_gave_to_a_supplier_is_bought_there(api: Api) -> None:
    """A consortium (or pricing) that chose the local supplier for a line writes its id into the
    quote's material line: the confirmation buys there, not from the cheapest."""
    configuration = api.call(
        "alice",
        "POST",
        "/api/configurations",
        json={"family_id": "robotic-cell", "values": ROBOT_CELL},
    ).json()
    quote = api.call(
        "alice", "POST", "/api/quotes", json={"configuration_id": configuration["id"]}
    ).json()
    with transaction(api.context.session_factory) as session:
        row = session.get(Quote, quote["id"])
        assert row is not None
        materials = [
            {**line, "supplier_id": "emilia-steel"} if line["item"] == "steel-plate" else line
            for line in row.work["materials"]
        ]
        row.work = {**row.work, "materials": materials}
    order = api.call("alice", "POST", f"/api/quotes/{quote['id']}/confirm").json()
    purchases = api.call("coordinator", "GET", f"/api/purchases?order_id={order['id']}").json()
    plate = next(p for p in purchases if p["item"] == "steel-plate")
    assert (plate["supplier_id"], plate["unit_price"], plate["local"]) == (
        "emilia-steel",
        190,
        True,
    )
