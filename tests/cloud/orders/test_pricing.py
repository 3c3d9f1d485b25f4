"""A quote priced from its members (pure pricing), and its breakdown as each role sees it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloud.config import PricingSettings, Settings
from cloud.exceptions import Conflict
from cloud.orders import flows as orders_flows
from cloud.orders import pricing
from tests.cloud.orders.network import ROBOT_CELL, auth, served

SETTINGS = PricingSettings(margin=0.1, transport_per_km=2.0, default_hourly_rate=50.0)


def step(name: str, unit: str, process: str, hours: float, *after: str) -> pricing.PlannedStep:
    return pricing.PlannedStep(name, name, process, unit, f"{unit}-m", hours, after)


def priced(
    steps: list[pricing.PlannedStep],
    rates: dict[str, pricing.MemberRates],
    formula: tuple[str, float] | None = ("Cell", 999.0),
) -> Any:
    return pricing.price(
        steps=steps,
        materials=[pricing.Material("arm", "Arm", 2, "pcs", 100.0)],
        rates=rates,
        distance_km=lambda a, b: 10.0,
        settings=SETTINGS,
        currency="EUR",
        formula=formula,
    )


def test_member_lines_materials_transport_and_margin_make_the_total() -> None:
    steps = [
        step("cut", "metal", "laser_cutting", 2.0),
        step("weld", "metal", "welding", 1.5, "cut"),
        step("paint", "finish", "painting", 1.0, "weld"),
        step("test", "lead", "testing", 0.5, "paint", "cut"),
    ]
    rates = {
        "metal": pricing.MemberRates({"laser_cutting": pricing.Rate(80.0, 30.0)}, hourly_rate=40.0),
        "finish": pricing.MemberRates({"painting": pricing.Rate(20.0)}),
        "lead": pricing.MemberRates(),
    }
    breakdown = priced(steps, rates)
    amounts = {(line["kind"], line["step"]): line["amount"] for line in breakdown["lines"]}
    assert amounts[("operation", "cut")] == 2.0 * 80 + 30  # its process's rate and setup
    assert amounts[("operation", "weld")] == 1.5 * 40  # the member's hourly rate
    assert amounts[("operation", "paint")] == 20.0
    assert amounts[("operation", "test")] == 0.5 * 50  # no rate at all: the network's default
    assert amounts[("material", None)] == 200.0
    # metal→finish (weld→paint), finish→lead (paint→test), metal→lead (cut→test): 10 km each.
    transports = [line for line in breakdown["lines"] if line["kind"] == "transport"]
    assert [line["amount"] for line in transports] == [20.0, 20.0, 20.0]
    subtotal = 190 + 60 + 20 + 25 + 200 + 60
    assert breakdown["basis"] == "members" and breakdown["subtotal"] == subtotal
    assert breakdown["margin"] == round(subtotal * 0.1, 2)
    assert breakdown["total"] == round(subtotal * 1.1, 2)
    assert "network's default" in next(
        line["description"] for line in breakdown["lines"] if line["step"] == "test"
    )


def test_a_plan_with_no_priced_member_keeps_the_family_formula_and_says_so() -> None:
    breakdown = priced(
        [step("cut", "metal", "laser_cutting", 2.0)], {"metal": pricing.MemberRates()}
    )
    assert breakdown["basis"] == "family" and breakdown["total"] == 999.0
    assert "Cell formula" in breakdown["note"] and "metal" in breakdown["note"]
    assert [(line["quantity"], line["amount"]) for line in breakdown["lines"]] == [(2.0, None)]


def test_work_without_a_formula_is_priced_at_the_default_rate_when_nobody_has_rates() -> None:
    breakdown = priced(
        [step("cut", "metal", "laser_cutting", 2.0)], {"metal": pricing.MemberRates()}, None
    )
    assert breakdown["basis"] == "members"
    amounts = [(line["kind"], line["amount"]) for line in breakdown["lines"]]
    assert amounts == [("operation", 100.0), ("material", 200.0), ("margin", 30.0)]
    assert breakdown["total"] == 330.0


DELIVERY = pricing.Delivery("finish", ("paint",), "Bologna depot", km=42.04, hours=0.7)


def test_the_delivery_to_the_site_is_the_shipping_members_line_at_the_transport_rate() -> None:
    steps = [step("cut", "metal", "laser_cutting", 2.0), step("paint", "finish", "painting", 1.0)]
    rates = {unit: pricing.MemberRates(hourly_rate=50.0) for unit in ("metal", "finish")}
    breakdown = pricing.price(
        steps=steps,
        materials=[],
        rates=rates,
        distance_km=lambda a, b: 10.0,
        settings=SETTINGS,
        currency="EUR",
        formula=None,
        deliveries=[DELIVERY],
    )
    delivery = next(line for line in breakdown["lines"] if line["kind"] == "delivery")
    assert (delivery["unit_id"], delivery["step"], delivery["quantity"]) == (
        "finish",
        "paint",
        42.0,
    )
    assert delivery["amount"] == 42.0 * 2.0 and delivery["unit"] == "km"
    assert "Bologna depot" in delivery["description"] and "0.7 h" in delivery["description"]
    assert breakdown["subtotal"] == 100 + 50 + 84
    # No rates: the family's formula prices the product, not where it goes; the delivery is added.
    family = pricing.price(
        steps=steps,
        materials=[],
        rates={},
        distance_km=lambda a, b: 10.0,
        settings=SETTINGS,
        currency="EUR",
        formula=("Cell", 999.0),
        deliveries=[DELIVERY],
    )
    assert family["basis"] == "family" and family["total"] == 999.0 + 84
    assert "plus its delivery" in family["note"]


def test_a_site_of_unknown_location_is_a_clear_conflict_not_a_crash() -> None:
    site = orders_flows.DeliverySite("Depot somewhere", None)
    with pytest.raises(Conflict, match="Depot somewhere has no known location"):
        orders_flows.delivery_legs(session=None, site=site, job=None, plan=None)  # type: ignore[arg-type]
    assert orders_flows.delivery_legs(session=None, site=None, job=None, plan=None) == []  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """One app for the module, on SQLite (the flows' own database behaviour is tested on both
    databases in test_holds.py)."""
    from cloud.config import load_settings

    path = tmp_path_factory.mktemp("pricing")
    settings: Settings = load_settings(
        None,
        network="net-pricing",
        data_dir=path,
        database_url=f"sqlite:///{path / 'coordinator.sqlite'}",
        ingest={"enabled": False},
        events={"bus": "off"},
        orders={"plan_time_limit_s": 0.05, "dispatch_enabled": False},
    )
    with served(settings) as served_api:
        yield served_api


def quote(client: TestClient, keys: dict[str, str]) -> Any:
    configuration = client.post(
        "/api/configurations",
        json={"family_id": "robotic-cell", "values": ROBOT_CELL},
        headers=auth(keys, "alice"),
    ).json()
    response = client.post(
        "/api/quotes", json={"configuration_id": configuration["id"]}, headers=auth(keys, "alice")
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_rates_are_set_by_the_member_or_the_coordinator_and_validated(api: Any) -> None:
    client, keys = api
    own = client.put(
        "/api/units/metal/rates/welding",
        json={"hourly_rate": 70, "setup_cost": 25},
        headers=auth(keys, "metal"),
    )
    assert own.status_code == 200 and own.json()["setup_cost"] == 25
    other = client.put(
        "/api/units/finish/rates/painting", json={"hourly_rate": 1}, headers=auth(keys, "metal")
    )
    assert other.status_code == 404
    for body, process in (
        ({"hourly_rate": -1}, "welding"),
        ({"hourly_rate": 1e9}, "welding"),
        ({"hourly_rate": 10, "extra": 1}, "welding"),
        ({"hourly_rate": 10}, "juggling"),
    ):
        bad = client.put(
            f"/api/units/metal/rates/{process}", json=body, headers=auth(keys, "metal")
        )
        assert bad.status_code == 422, (body, process)
    listed = client.get("/api/units/metal/rates", headers=auth(keys, "coordinator")).json()
    assert [(r["process"], r["hourly_rate"]) for r in listed] == [("welding", 70.0)]
    assert client.get("/api/units/metal/rates", headers=auth(keys, "alice")).status_code == 403


def test_the_quote_is_the_members_total_and_each_role_sees_its_part(api: Any) -> None:
    client, keys = api
    for unit, process, rate in (("metal", "laser_cutting", 90), ("lead", "assembly", 55)):
        client.put(
            f"/api/units/{unit}/rates/{process}",
            json={"hourly_rate": rate, "setup_cost": 10},
            headers=auth(keys, "coordinator"),
        )
    supplier = {
        "id": "arms",
        "company": "Arms Srl",
        "latitude": 44.5,
        "longitude": 11.3,
        "country": "IT",
        "offers": {"robot-arm": {"unit_price": 15000, "lead_time_days": 10}},
    }
    created = client.post("/api/suppliers", json=supplier, headers=auth(keys, "coordinator"))
    assert created.status_code == 201, created.text
    body = quote(client, keys)
    full = client.get(f"/api/quotes/{body['id']}/breakdown", headers=auth(keys, "coordinator"))
    everything = full.json()
    materials = {line["description"].split(":")[0]: line for line in everything["lines"]}
    arm = materials["robot-arm"]
    assert arm["rate"] == 15000 and "Arms Srl" in arm["description"]  # the supplier's price
    assert "bill-of-materials cost" in materials["cabinet"]["description"]  # nobody offers it
    # The confirmation buys the arm from the supplier the quote was priced with.
    stored = client.get(f"/api/quotes/{body['id']}", headers=auth(keys, "coordinator")).json()
    arm_line = next(m for m in stored["work"]["materials"] if m["item"] == "robot-arm")
    assert (arm_line["supplier_id"], arm_line["unit_price"]) == ("arms", 15000)
    # The customer's own quote (as made, read, listed) says what the work needs, not who
    # supplies it at what price: the breakdown below gives it the total only.
    listed = client.get("/api/quotes", headers=auth(keys, "alice")).json()
    read = client.get(f"/api/quotes/{body['id']}", headers=auth(keys, "alice")).json()
    mine = next(q for q in listed if q["id"] == body["id"])
    for view in (body, read, mine):
        materials = {m["item"]: m for m in view["work"]["materials"]}
        assert materials["robot-arm"] == {
            key: arm_line[key] for key in ("item", "description", "quantity", "unit", "steps")
        }
        assert "15000" not in str(view["work"]) and "Arms Srl" not in str(view["work"])
        assert view["work"]["operations"] == stored["work"]["operations"]
    assert everything["basis"] == "members" and body["price"] == everything["total"]
    lines = everything["lines"]
    assert {line["kind"] for line in lines} == {"operation", "material", "transport", "margin"}
    assert (
        round(sum(line["amount"] for line in lines if line["kind"] != "margin"), 2)
        == (everything["subtotal"])
    )
    assert everything["total"] == round(everything["subtotal"] + everything["margin"], 2)
    members = {line["unit_id"] for line in lines if line["kind"] == "operation"}

    for unit in members:
        own = client.get(f"/api/quotes/{body['id']}/breakdown", headers=auth(keys, unit)).json()
        assert own["lines"] and {line["unit_id"] for line in own["lines"]} == {unit}
        assert own["total"] is None and own["options"] is None and own["margin"] is None
    for unit in {"lead", "metal", "finish"} - members:
        hidden = client.get(f"/api/quotes/{body['id']}/breakdown", headers=auth(keys, unit))
        assert hidden.status_code == 404
    customer = client.get(f"/api/quotes/{body['id']}/breakdown", headers=auth(keys, "alice"))
    seen = customer.json()
    assert seen["total"] == body["price"] and ROBOT_CELL.items() <= seen["options"].items()
    assert seen["lines"] == [] and seen["basis"] is None and seen["subtotal"] is None
    other = client.get(f"/api/quotes/{body['id']}/breakdown", headers=auth(keys, "bob"))
    assert other.status_code == 404


def test_refusing_or_withdrawing_ends_a_quote(api: Any) -> None:
    client, keys = api
    first, second = quote(client, keys), quote(client, keys)
    forbidden = client.post(f"/api/quotes/{first['id']}/withdraw", headers=auth(keys, "alice"))
    assert forbidden.status_code == 403
    refused = client.post(f"/api/quotes/{first['id']}/refuse", headers=auth(keys, "alice"))
    assert refused.status_code == 200 and refused.json()["status"] == "refused"
    withdrawn = client.post(
        f"/api/quotes/{second['id']}/withdraw", headers=auth(keys, "coordinator")
    )
    assert withdrawn.json()["status"] == "withdrawn"
    for ended in (first, second):
        late = client.post(f"/api/quotes/{ended['id']}/confirm", headers=auth(keys, "alice"))
        assert late.status_code == 409 and "was" in late.json()["message"]
