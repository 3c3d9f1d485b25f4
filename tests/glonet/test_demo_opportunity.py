"""The demo's opportunity, end to end through the coordinator's real HTTP API and scheduling core:
``glonet demo``'s driver forms the public customer's consortium from the scripted answers (one
member declines), with the local suppliers the local-content rule needs, has its terms accepted,
quotes and confirms it; the plan puts each step on its member; the operations end as the
members' machines report them; the driver delivers the order and prints its ledger. Only the
simulated machines and the broker are left out (the loop test runs those)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.config import load_settings
from cloud.database import transaction
from cloud.dispatch import flows as dispatch_flows
from cloud.dispatch import service as dispatch_service
from cloud.main import create_app
from cloud.orders import service as orders_service
from cloud.orders.models import OperationStatus, OrderOperation
from cloud.registry import service as registry_service
from firmware_sim.plant import Plant, load_plant
from glonet.demo import DEMO_SPEC
from glonet.demo_driver import DemoDriver
from glonet.demo_network import (
    PlantNetwork,
    coordinator_settings,
    load_spec,
    network_setup,
    prepare_network,
)
from protocols.messages import JobEvent


def _births(client: TestClient, plants: list[Plant]) -> None:
    """Each plant's machines as its gateway's birth gives them to the coordinator."""
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
                        "capabilities": [c.model_dump(mode="json") for c in m.capabilities],
                        "max_job_orders": m.max_job_orders,
                    }
                    for m in plant.machines
                ],
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
        order_id = driver.form_and_quote(spec.opportunity)
        purchases = client.get(
            "/api/purchases", headers={"Authorization": f"Bearer {keys['Network coordinator']}"}
        ).json()
        made = _make(client, order_id)
        assert not driver.follow()  # completed: the driver delivers it
        assert driver.follow() and driver.ledger_shown
    out = capsys.readouterr().out
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
