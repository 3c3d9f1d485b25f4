"""The network as one enterprise, end to end through the API with the real scheduling core:
a customer's configured product becomes an opportunity of a dynamic network, its members are
invited and answer, the selection forms the consortium, the members accept its terms, the
consortium's quote is confirmed, the planner puts every step on the member chosen for it, the
members make it, and the delivered order's ledger pays each member its agreed share."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.auth.dependencies import SESSION_COOKIE
from cloud.config import Settings
from cloud.context import AppContext
from cloud.database import transaction
from cloud.dispatch import flows as dispatch_flows
from cloud.dispatch import service as dispatch_service
from cloud.orders import service as orders_service
from cloud.orders.models import OperationStatus, OrderOperation
from protocols.messages import JobEvent
from tests.cloud.orders.network import ROBOT_CELL, UNITS, auth, served

SITE = {"name": "Bologna depot", "latitude": 44.49, "longitude": 11.34, "country": "IT"}
# Who does what, for how much: the cheapest cover is metal for the fence panels (finish
# declines them) and finish for the base plates (cheaper than metal's).
PRICES = {
    ("cut-fence-panels", "metal"): 900.0,
    ("cut-base-plates", "metal"): 1200.0,
    ("cut-base-plates", "finish"): 700.0,
}
DECLINED = {("cut-fence-panels", "finish"): "the 8 mm laser is booked for March"}
DEFAULT_PRICE = 1000.0


@pytest.fixture
def api(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str]]]:
    with served(settings) as served_api:
        yield served_api


def _soon(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def _able(process: str) -> list[str]:
    return [
        unit_id
        for unit_id, (_fields, machines) in UNITS.items()
        if any(m["capabilities"][0]["process"] == process for m in machines)
    ]


def _opportunity(client: TestClient, keys: dict[str, str]) -> dict[str, Any]:
    network = client.app.state.context.settings.network  # type: ignore[attr-defined]
    coordinator = auth(keys, "coordinator")
    kind = client.patch(f"/api/networks/{network}", json={"kind": "dynamic"}, headers=coordinator)
    assert kind.status_code == 200, kind.text
    configuration = client.post(
        "/api/configurations",
        json={"family_id": "robotic-cell", "values": ROBOT_CELL},
        headers=auth(keys, "alice"),
    ).json()
    body = {
        "title": "Robotic cell for Alice",
        "configuration_id": configuration["id"],
        "due_at": _soon(60),
        "site": SITE,
    }
    response = client.post("/api/opportunities", json=body, headers=coordinator)
    assert response.status_code == 201, response.text
    return dict(response.json())


def _invite_and_answer(
    client: TestClient, keys: dict[str, str], opportunity: dict[str, Any]
) -> None:
    candidates = {p["step"]: _able(p["process"]) for p in opportunity["processes"]}
    response = client.post(
        f"/api/opportunities/{opportunity['id']}/work-invitations",
        json={"deadline": _soon(2), "candidates": candidates},
        headers=auth(keys, "coordinator"),
    )
    assert response.status_code == 201, response.text
    for invitation in response.json():
        key = (invitation["step"], invitation["unit_id"])
        body: dict[str, Any] = (
            {"answer": "decline", "reason": DECLINED[key]}
            if key in DECLINED
            else {
                "answer": "accept",
                "price": PRICES.get(key, DEFAULT_PRICE),
                "earliest_start": _soon(1),
                "earliest_end": _soon(20),
            }
        )
        answered = client.post(
            f"/api/work-invitations/{invitation['id']}/answer",
            json=body,
            headers=auth(keys, invitation["unit_id"]),
        )
        assert answered.status_code == 200, answered.text


def _page(client: TestClient, keys: dict[str, str], who: str, path: str) -> str:
    client.cookies.set(SESSION_COOKIE, keys[who])
    try:
        response = client.get(path)
    finally:
        client.cookies.clear()
    assert response.status_code == 200, response.text
    return response.text


def _replan(context: AppContext) -> None:
    settings = context.settings
    with transaction(context.session_factory) as session:
        dispatch_flows.replan(
            session=session,
            network_id=settings.network,
            settings=settings.orders,
            now=datetime.now(UTC),
        )


def _produce(context: AppContext, order_id: str) -> dict[str, str]:
    """Each operation dispatched where the plan put it and ended there by its machine's job
    events (the dispatcher's own handling); return the unit of each step."""
    network = context.settings.network
    now = datetime.now(UTC)
    done: dict[str, str] = {}
    with transaction(context.session_factory) as session:
        query = select(OrderOperation).where(OrderOperation.order_id == order_id)
        for op in session.scalars(query.order_by(OrderOperation.position)):
            assert op.unit_id is not None and op.machine is not None, op.step
            op.attempt += 1
            op.job_order_id = f"{order_id}-{op.position}"
            op.status = OperationStatus.DISPATCHED
            op.dispatched_at = now
            event = JobEvent(
                machine=op.machine,
                job_order_id=op.job_order_id,
                event="ended",
                state="Ended",
                produced_quantity=1,
                actual_start=now,
                actual_end=now + timedelta(seconds=op.duration_s),
                occurred_at=now + timedelta(seconds=op.duration_s),
            )
            dispatch_service.record_job_events(
                session=session, network_id=network, events=[(op.unit_id, event)], now=now
            )
            done[op.step] = op.unit_id
        orders_service.advance_orders(session=session, now=now)
    return done


def test_an_opportunity_is_formed_quoted_won_made_by_its_members_and_delivered(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = api
    context: AppContext = client.app.state.context  # type: ignore[attr-defined]
    coordinator = auth(keys, "coordinator")
    for unit_id, rate in {"lead": 60.0, "metal": 80.0, "finish": 50.0}.items():
        policy = {"sharing_policy": {"hourly_rate": rate, "share_telemetry": True}}
        assert client.patch(f"/api/units/{unit_id}", json=policy, headers=coordinator).is_success
    opportunity = _opportunity(client, keys)
    opportunity_id = opportunity["id"]
    quote_url = f"/api/opportunities/{opportunity_id}/quote"
    early = client.post(quote_url, headers=coordinator)
    assert early.status_code == 409 and "is open" in early.json()["message"]

    _invite_and_answer(client, keys, opportunity)
    formed = client.post(
        f"/api/opportunities/{opportunity_id}/consortium",
        json={"terms": {"payment_terms": "30 days", "penalties": "1 % a week late"}},
        headers=coordinator,
    )
    assert formed.status_code == 201, formed.text
    consortium = formed.json()
    chosen = {step: m["unit_id"] for m in consortium["members"] for step in m["steps"]}
    assert chosen["cut-fence-panels"] == "metal" and chosen["cut-base-plates"] == "finish"
    agreed = {m["unit_id"]: m for m in consortium["members"]}

    # Quoted only once every member accepted the current terms.
    url = f"/api/consortia/{consortium['id']}/acceptances"
    members = sorted(agreed)
    for unit_id in members[:-1]:
        accepted = client.post(url, json={"revision": 1}, headers=auth(keys, unit_id))
        assert accepted.status_code == 200, accepted.text
    waiting = client.post(quote_url, headers=coordinator)
    assert waiting.status_code == 409 and members[-1] in waiting.json()["message"]
    assert (
        client.post(url, json={"revision": 1}, headers=auth(keys, members[-1])).status_code == 200
    )
    assert client.post(quote_url, headers=auth(keys, "alice")).status_code == 403

    page = f"/consortia/{consortium['id']}"
    assert 'id="quote-opportunity"' in _page(client, keys, "coordinator", page)
    assert 'id="quote-opportunity"' not in _page(client, keys, "finish", page)
    response = client.post(quote_url, json={}, headers=coordinator)  # as the page's button does
    assert response.status_code == 201, response.text
    assert 'id="quote-opportunity"' not in _page(client, keys, "coordinator", page)
    quote = response.json()
    # Each member's lines add up to its agreed price; materials, transport and margin on top.
    breakdown = client.get(f"/api/quotes/{quote['id']}/breakdown", headers=coordinator).json()
    assert breakdown["total"] == quote["price"]
    by_unit: dict[str, float] = {}
    for line in breakdown["lines"]:
        if line["kind"] == "operation":
            by_unit[line["unit_id"]] = by_unit.get(line["unit_id"], 0.0) + line["amount"]
    assert by_unit == pytest.approx({u: m["price"] for u, m in agreed.items()}, abs=0.05)
    materials = sum(m["quantity"] * m["unit_cost"] for m in quote["work"]["materials"])
    kinds = {line["kind"] for line in breakdown["lines"]}
    assert {"material", "transport", "margin"} <= kinds  # the members gave rates
    transport = sum(line["amount"] for line in breakdown["lines"] if line["kind"] == "transport")
    assert breakdown["subtotal"] == pytest.approx(
        sum(by_unit.values()) + materials + transport, abs=0.5
    )
    assert breakdown["total"] == pytest.approx(breakdown["subtotal"] + breakdown["margin"])
    mine = client.get(f"/api/quotes/{quote['id']}/breakdown", headers=auth(keys, "finish")).json()
    assert {line["unit_id"] for line in mine["lines"]} == {"finish"}
    assert {op["step"]: op["units"] for op in quote["work"]["operations"]} == {
        step: [unit_id] for step, unit_id in chosen.items()
    }
    quoted = client.get(f"/api/opportunities/{opportunity_id}", headers=coordinator).json()
    assert quoted["status"] == "quoted"
    assert client.post(quote_url, headers=coordinator).status_code == 409

    # The customer confirms: the order is made and the opportunity won, with the trail.
    order = client.post(f"/api/quotes/{quote['id']}/confirm", headers=auth(keys, "alice"))
    assert order.status_code == 201, order.text
    order_id = order.json()["id"]
    won = client.get(f"/api/opportunities/{opportunity_id}", headers=coordinator).json()
    assert won["status"] == "won"
    assert [e["to_status"] for e in won["events"]] == ["open", "forming", "quoted", "won"]
    assert f"order {order_id}" in won["events"][-1]["note"]

    # The real planner puts every step on the member chosen for it, and the members make it.
    _replan(context)
    made = _produce(context, order_id)
    assert made == chosen
    delivered = client.post(f"/api/orders/{order_id}/deliver", headers=coordinator)
    assert delivered.status_code == 200, delivered.text
    assert delivered.json()["status"] == "delivered"

    # The ledger pays each member its agreed share of the price after the network's fee.
    ledger = client.get(f"/api/orders/{order_id}/ledger", headers=coordinator).json()
    fee, *lines = ledger["entries"]
    assert fee["unit_id"] is None and fee["revenue"] == ledger["network_fee"]
    assert {line["unit_id"]: line["basis"] for line in lines} == dict.fromkeys(agreed, "agreed")
    rest = ledger["price"] - ledger["network_fee"]
    for line in lines:
        member = agreed[line["unit_id"]]
        assert line["share"] == pytest.approx(member["revenue_share"], abs=1e-6)
        assert line["revenue"] == pytest.approx(rest * line["share"], abs=0.05)
    assert sum(e["revenue"] for e in ledger["entries"]) == pytest.approx(quote["price"])
    own = client.get(f"/api/orders/{order_id}/ledger", headers=auth(keys, "finish")).json()
    assert [e["unit_id"] for e in own["entries"]] == ["finish"]


def test_a_quote_for_an_opportunity_no_longer_quoted_is_not_confirmed(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = api
    coordinator = auth(keys, "coordinator")
    opportunity = _opportunity(client, keys)
    opportunity_id = opportunity["id"]
    _invite_and_answer(client, keys, opportunity)
    consortium = client.post(
        f"/api/opportunities/{opportunity_id}/consortium", json={}, headers=coordinator
    ).json()
    for member in consortium["members"]:
        if member["unit_id"] is not None:
            client.post(
                f"/api/consortia/{consortium['id']}/acceptances",
                json={"revision": 1},
                headers=auth(keys, member["unit_id"]),
            )
    quote = client.post(f"/api/opportunities/{opportunity_id}/quote", headers=coordinator).json()
    withdrawn = client.post(
        f"/api/opportunities/{opportunity_id}/status",
        json={"to": "withdrawn", "note": "the customer chose another network"},
        headers=coordinator,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    refused = client.post(f"/api/quotes/{quote['id']}/confirm", headers=auth(keys, "alice"))
    assert refused.status_code == 409 and "withdrawn" in refused.json()["message"]
    assert client.get("/api/orders", headers=auth(keys, "alice")).json() == []
    assert client.get(f"/api/quotes/{quote['id']}", headers=coordinator).json()["order_id"] is None


def test_a_withdrawn_quote_sends_the_opportunity_back_to_forming_a_refused_one_loses_it(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = api
    coordinator = auth(keys, "coordinator")
    opportunity = _opportunity(client, keys)
    opportunity_id = opportunity["id"]
    _invite_and_answer(client, keys, opportunity)
    consortium = client.post(
        f"/api/opportunities/{opportunity_id}/consortium", json={}, headers=coordinator
    ).json()
    for member in consortium["members"]:
        client.post(
            f"/api/consortia/{consortium['id']}/acceptances",
            json={"revision": 1},
            headers=auth(keys, member["unit_id"]),
        )
    url = f"/api/opportunities/{opportunity_id}"
    first = client.post(f"{url}/quote", headers=coordinator).json()
    withdrawn = client.post(f"/api/quotes/{first['id']}/withdraw", headers=coordinator)
    assert withdrawn.status_code == 200, withdrawn.text
    assert client.get(url, headers=coordinator).json()["status"] == "forming"
    second = client.post(f"{url}/quote", headers=coordinator)
    assert second.status_code == 201, second.text
    refused = client.post(f"/api/quotes/{second.json()['id']}/refuse", headers=auth(keys, "alice"))
    assert refused.status_code == 200, refused.text
    lost = client.get(url, headers=coordinator).json()
    assert lost["status"] == "lost"
    assert [e["to_status"] for e in lost["events"]][-4:] == ["quoted", "forming", "quoted", "lost"]
