"""The demo's opportunity, end to end through the coordinator's real HTTP API and scheduling core:
``glonet demo``'s driver forms the public customer's consortium from the scripted answers (one
member declines), with the local suppliers the local-content rule needs, has its terms accepted,
quotes and confirms it; the plan puts each step on its member; the operations end as the
members' machines report them; the driver delivers the order, installed as the field product
the spec names, whose field gateway's reports its page then shows, and prints its ledger. Only
the simulated machines and the broker are left out (the loop test runs those)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.config import load_settings
from cloud.database import transaction
from cloud.dispatch import flows as dispatch_flows
from cloud.dispatch import service as dispatch_service
from cloud.ingest import service as ingest_service
from cloud.main import create_app
from cloud.messaging.mqtt import InboundMessage
from cloud.orders import service as orders_service
from cloud.orders.models import OperationStatus, OrderOperation
from cloud.products.models import FieldAssetSet
from cloud.registry import service as registry_service
from edge.nodes import metric_name
from firmware_sim.plant import Plant, load_plant
from firmware_sim.profiles import get_profile
from glonet.demo import DEMO_SPEC
from glonet.demo_driver import DemoDriver
from glonet.demo_network import (
    DemoError,
    PlantNetwork,
    check_field_assets,
    coordinator_settings,
    load_spec,
    network_setup,
    prepare_network,
)
from protocols import codec, messages, topics
from protocols.messages import JobEvent


def _births(client: TestClient, plants: list[Plant]) -> None:
    """Each plant's machines as its gateway's birth gives them to the coordinator (its metrics
    named as the gateway names the simulator's monitoring variables)."""
    context = client.app.state.context  # type: ignore[attr-defined]
    with transaction(context.session_factory) as session:
        for plant in plants:
            registry_service.record_birth(
                session=session,
                unit_id=plant.unit,
                machines=[
                    {
                        "machine": m.id,
                        "name": m.name or m.id,
                        "asset_kind": get_profile(m.type).kind.value,
                        "capabilities": [c.model_dump(mode="json") for c in m.capabilities],
                        "metrics": [
                            {"name": metric_name(metric.name), "unit": metric.symbol}
                            for metric in get_profile(m.type).metrics
                        ],
                        "max_job_orders": m.max_job_orders,
                    }
                    for m in plant.machines
                ],
            )


def _field_gateway_reports(client: TestClient, asset: FieldAssetSet, **values: float) -> None:
    """The field gateway's messages on the wire (online, the asset's state and its values),
    taken in by the coordinator's ingest as it takes them off the broker."""
    context = client.app.state.context  # type: ignore[attr-defined]
    network, unit, now = context.settings.network, asset.unit_id, datetime.now(UTC)
    seq = itertools.count(1)

    def received(topic: str, kind: type[messages.Envelope], body: dict[str, Any]) -> Any:
        payload = codec.encode(kind.create(unit=unit, seq=next(seq), body=body))
        return ingest_service.decode(
            InboundMessage(topic, payload, mid=0, qos=1, retain=False),
            network=network,
            max_payload=context.settings.ingest.max_payload_bytes,
        )

    state = {
        "machine": asset.asset,
        "available": True,
        "state": "Executing",
        "mode": "Processing",
        "free_slots": 0,
        "queue_free_at": now,
        "reported_at": now,
    }
    samples = [
        {"machine": asset.asset, "metric": metric, "value": value, "source_time": now}
        for metric, value in values.items()
    ]
    ingest_service.apply_batch(
        session_factory=context.session_factory,
        network=network,
        batch=[
            received(topics.unit_state(network, unit), messages.UnitState, {"state": "online"}),
            received(topics.capacity(network, unit, asset.asset), messages.Capacity, state),
            received(
                topics.telemetry(network, unit, asset.asset),
                messages.Telemetry,
                {"samples": samples},
            ),
        ],
        sink=context.sink,
        metrics=context.metrics,
    )


def _make(client: TestClient, order_id: str) -> dict[str, str]:
    """Plan, then end every operation where the plan put it, as its machine reports."""
    context = client.app.state.context  # type: ignore[attr-defined]
    settings = context.settings
    now = datetime.now(UTC)
    made: dict[str, str] = {}
    with transaction(context.session_factory) as session:
        dispatch_flows.replan(
            session=session, network_id=settings.network, settings=settings.orders, now=now
        )
        query = select(OrderOperation).where(OrderOperation.order_id == order_id)
        for op in session.scalars(query.order_by(OrderOperation.position)):
            assert op.unit_id is not None and op.machine is not None, op.step
            op.job_order_id, op.status = f"{order_id}-{op.position}", OperationStatus.DISPATCHED
            end = now + timedelta(seconds=op.duration_s)
            event = JobEvent(
                machine=op.machine,
                job_order_id=op.job_order_id,
                event="ended",
                state="Ended",
                produced_quantity=1,
                actual_start=now,
                actual_end=end,
                occurred_at=end,
            )
            dispatch_service.record_job_events(
                session=session, network_id=settings.network, events=[(op.unit_id, event)], now=now
            )
            made[op.step] = op.unit_id
        orders_service.advance_orders(session=session, now=now)
    return made


def test_the_demo_forms_quotes_makes_and_delivers_the_opportunity_and_shows_its_ledger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = load_spec(DEMO_SPEC)
    assert spec.opportunity is not None
    spec.orders, spec.breakdown = [], None  # the rest of the story needs the real plants
    plants = [load_plant(path) for path in spec.plants]
    settings = coordinator_settings(
        spec, workdir=tmp_path, mqtt_host="127.0.0.1", mqtt_port=1, port=8000
    )
    settings |= {"ingest": {"enabled": False}, "events": {"bus": "off"}}
    keys = prepare_network(settings, network_setup(spec, plants)).api_keys
    with TestClient(create_app(load_settings(None, **settings))) as client:
        driver = DemoDriver(spec, str(client.base_url), keys, PlantNetwork(tmp_path, [], "x", 1))
        driver.http = client
        _births(client, plants)
        coordinator = {"Authorization": f"Bearer {keys['Network coordinator']}"}
        units = client.get("/api/units", headers=coordinator).json()
        assert {u["id"]: u["country"] for u in units} == {p.unit: "IT" for p in plants}
        order_id = driver.form_and_quote(spec.opportunity)
        purchases = client.get(
            "/api/purchases", headers={"Authorization": f"Bearer {keys['Network coordinator']}"}
        ).json()
        made = _make(client, order_id)
        assert not driver.follow()  # completed: the driver delivers it
        assert driver.follow() and driver.ledger_shown
        # Delivered, the product was installed as the spec's field product; once the field
        # gateway reports it, its page shows the asset's live state to its customer.
        serial, installed = driver.products[order_id], spec.opportunity.field_asset
        assert installed is not None
        _field_gateway_reports(client, installed, ac_power=12.5, heatsink_temperature=41.25)
        customer = keys["Customer comune-di-bologna"]
        page = client.get(
            f"/api/products/{serial}/page", headers={"Authorization": f"Bearer {customer}"}
        ).json()
        client.cookies.set("glonet_key", customer)
        html = client.get(f"/products/{serial}").text
    live = page["live"]
    assert (live["unit_id"], live["asset"]) == (installed.unit_id, installed.asset)
    assert live["reporting"] and live["online"] and live["state"] == "Executing"
    readings = {(m["metric"], m["value"], m["unit"]) for m in live["metrics"]}
    assert readings == {("ac_power", 12.5, "kW"), ("heatsink_temperature", 41.25, "°C")}
    assert "No live data" not in html and "12.5 kW" in html and "41.2 °C" in html
    # The contract's response time runs at the demo's time scale, like the tickets' times.
    assert page["contract"]["response_hours"] == 8 / spec.time_scale
    assert '<dd id="contract-response">24 seconds</dd>' in html
    out = capsys.readouterr().out
    assert (
        f"order {order_id} delivered: product {serial} installed as "
        f"{installed.unit_id}/{installed.asset}, live on http://testserver/products/{serial}"
    ) in out
    assert "(dynamic network)" in out
    assert "ferrara-controls invited to acceptance-test: declines: our test bench" in out
    assert "supplier:emilia-automazione (local_supplier)" in out
    assert "supplier:bologna-metalli (local_supplier)" in out
    assert "every member accepted the terms of revision 1" in out
    assert f"order {order_id}: Rooftop plant for the Scuola Carducci" in out
    answers = spec.opportunity.answers
    assert made == {
        step: next(u for u, a in by_unit.items() if a.decline is None)
        for step, by_unit in answers.items()
    }
    ledger = out.split(f"ledger of order {order_id} (page http://testserver/ledger/{order_id})")[1]
    for unit in {*made.values(), "supplier:emilia-automazione", "network fee"}:
        assert unit in ledger
    assert "agreed" in ledger
    # The confirmation bought the suppliers' lines from the consortium's suppliers.
    bought = {p["item"]: p["supplier_id"] for p in purchases if p["order_id"] == order_id}
    assert bought["inverter"] == "emilia-automazione"
    assert bought["aluminium-rail"] == "bologna-metalli"


def test_the_demos_products_are_installed_as_its_field_products() -> None:
    """`glonet demo` runs the field products' gateway with the plants, and delivers each order
    whose product has a controller installed as a distinct field product of it."""
    spec = load_spec(DEMO_SPEC)
    assert spec.opportunity is not None
    plants = [load_plant(path) for path in spec.plants]
    field = next(p for p in plants if p.unit == "field-products")
    products = {m.id for m in field.machines if get_profile(m.type).kind.value == "product"}
    ordered = [*spec.orders, spec.opportunity]
    named = [o.field_asset for o in ordered if o.field_asset is not None]
    connected = {o.family for o in ordered if o.field_asset is not None}
    assert connected == {"robotic-cell", "solar-kit"}  # the kitchen line has no controller
    assert {a.unit_id for a in named} == {"field-products"}
    assert {a.asset for a in named} <= products and len(named) == 3
    check_field_assets(spec, plants)
    spec.orders[0].field_asset = FieldAssetSet(unit_id="imola-welding", asset="weld-1")
    with pytest.raises(DemoError, match="imola-welding/weld-1 is no field product"):
        network_setup(spec, plants)
    spec.orders[0].field_asset = spec.opportunity.field_asset
    with pytest.raises(DemoError, match="is named by two orders"):
        check_field_assets(spec, plants)
