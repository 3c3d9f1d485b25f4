"""The network as one enterprise, end to end through the API with the real scheduling core:
a customer's configured product, or a public customer's call for tenders, becomes an
opportunity of a dynamic network, its members are invited and answer, the selection forms the
consortium, the members accept its terms, the consortium's quote is confirmed, the planner puts
every step on the member chosen for it, the members make it, and the delivered order's ledger
pays each member its agreed share.

One coordinator per database for the module (SQLite, then PostgreSQL): each test makes its own
opportunity in it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.auth.dependencies import SESSION_COOKIE
from cloud.config import load_settings
from cloud.context import AppContext
from cloud.database import transaction
from cloud.dispatch import flows as dispatch_flows
from cloud.dispatch import service as dispatch_service
from cloud.dispatch.worker import Dispatcher
from cloud.geo import Location, distance_km
from cloud.orders import service as orders_service
from cloud.orders.models import CapacityHold, OperationStatus, OrderOperation
from cloud.registry.service import ROAD_DETOUR_FACTOR, road_hours
from protocols.messages import JobEvent
from tests.cloud.conftest import make_key
from tests.cloud.orders.network import ROBOT_CELL, UNITS, auth, served
from tests.conftest import fresh_postgres_database

SITE = {"name": "Bologna depot", "latitude": 44.49, "longitude": 11.34, "country": "IT"}
FINISH_AT = (UNITS["finish"][0]["latitude"], UNITS["finish"][0]["longitude"])
# Who does what, for how much: the cheapest cover is metal for the fence panels (finish
# declines them) and finish for the base plates (cheaper than metal's).
PRICES = {
    ("cut-fence-panels", "metal"): 900.0,
    ("cut-base-plates", "metal"): 1200.0,
    ("cut-base-plates", "finish"): 700.0,
}
DECLINED = {("cut-fence-panels", "finish"): "the 8 mm laser is booked for March"}
DEFAULT_PRICE = 1000.0


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def api(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    path = tmp_path_factory.mktemp("consortium-flow")
    with ExitStack() as stack:
        url = (
            f"sqlite:///{path / 'coordinator.sqlite'}"
            if request.param == "sqlite"
            else stack.enter_context(fresh_postgres_database())
        )
        settings = load_settings(
            None,
            network=f"net-{uuid.uuid4().hex[:10]}",
            data_dir=path,
            database_url=url,
            ingest={"enabled": False},
            events={"bus": "off"},
        )
        yield stack.enter_context(served(settings))


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
    assert {"material", "transport", "delivery", "margin"} <= kinds  # the members gave rates
    # Between the plants, and from the plant of the last step to the opportunity's site.
    transport = sum(
        line["amount"] for line in breakdown["lines"] if line["kind"] in ("transport", "delivery")
    )
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
    confirmed = client.post(f"/api/quotes/{quote['id']}/confirm", headers=auth(keys, "alice"))
    assert confirmed.status_code == 409 and "withdrawn" in confirmed.json()["message"]
    orders = client.get("/api/orders", headers=auth(keys, "alice")).json()
    assert all(order["quote_id"] != quote["id"] for order in orders)
    assert client.get(f"/api/quotes/{quote['id']}", headers=coordinator).json()["order_id"] is None
    # The customer may still refuse it: its holds go, the withdrawn opportunity stays as it is.
    trail = client.get(f"/api/opportunities/{opportunity_id}", headers=coordinator).json()
    refused = client.post(f"/api/quotes/{quote['id']}/refuse", headers=auth(keys, "alice"))
    assert refused.status_code == 200, refused.text
    after = client.get(f"/api/opportunities/{opportunity_id}", headers=coordinator).json()
    assert after["status"] == "withdrawn" and after["events"] == trail["events"]


def _expiry_dispatcher(context: AppContext, at: datetime) -> Dispatcher:
    """The dispatcher as the coordinator runs it, ticking at the test's moment ``at``."""
    return Dispatcher(
        settings=context.settings,
        engine=context.engine,
        session_factory=context.session_factory,
        broadcaster=context.broadcaster,
        clock=lambda: at,
    )


def test_an_expired_or_withdrawn_quote_sends_the_opportunity_back_to_forming_a_refused_one_loses_it(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    """Whatever ends a consortium's quote unconfirmed moves its opportunity on, once: expiry
    (the dispatcher's sweep, at the test's clock) and withdrawal back to forming, to be quoted
    again; refusal to lost. Two sweeps at once expire a quote once."""
    client, keys = api
    context: AppContext = client.app.state.context  # type: ignore[attr-defined]
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

    def quote() -> dict[str, Any]:
        response = client.post(f"{url}/quote", headers=coordinator)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def trail() -> list[dict[str, Any]]:
        return list(client.get(url, headers=coordinator).json()["events"])

    # Nobody answers the first quote: the next tick after its validity expires it.
    first = quote()
    with transaction(context.session_factory) as session:
        assert orders_service.holds_of(session=session, quote_id=first["id"])
    valid_until = datetime.fromisoformat(first["valid_until"])
    before = _expiry_dispatcher(context, valid_until - timedelta(seconds=1))
    assert before.expire_quotes(valid_until - timedelta(seconds=1)) == []
    _expiry_dispatcher(context, valid_until + timedelta(seconds=1)).run_tick()
    expired = trail()[-1]
    assert (expired["from_status"], expired["to_status"]) == ("quoted", "forming")
    assert expired["note"] == (
        f"quote {first['id']} expired at {valid_until.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    )
    assert expired["actor"] == "quote expiry"
    assert client.get(f"/api/quotes/{first['id']}", headers=coordinator).json()["status"] == (
        "expired"
    )
    with transaction(context.session_factory) as session:
        assert orders_service.holds_of(session=session, quote_id=first["id"]) == []
    late = client.post(f"/api/quotes/{first['id']}/confirm", headers=auth(keys, "alice"))
    assert late.status_code == 409 and "expired at" in late.json()["message"]
    later = valid_until + timedelta(hours=1)
    assert _expiry_dispatcher(context, later).expire_quotes(later) == []  # expired once
    assert trail()[-1] == expired

    # Two coordinators' sweeps at the same instant: one expires the second quote, once.
    second = quote()
    moment = datetime.fromisoformat(second["valid_until"]) + timedelta(seconds=1)
    start = threading.Barrier(2)

    def sweep(_: int) -> list[str]:
        start.wait()
        return _expiry_dispatcher(context, moment).expire_quotes(moment)

    with ThreadPoolExecutor(2) as pool:
        swept = [ids for ids in pool.map(sweep, range(2))]
    assert sorted(swept) == [[], [second["id"]]]
    assert [e["note"].split(" expired")[0] for e in trail() if " expired at " in e["note"]] == [
        f"quote {first['id']}",
        f"quote {second['id']}",
    ]

    # Withdrawn by the network: forming again; refused by the customer: lost.
    third = quote()
    withdrawn = client.post(f"/api/quotes/{third['id']}/withdraw", headers=coordinator)
    assert withdrawn.status_code == 200, withdrawn.text
    assert client.get(url, headers=coordinator).json()["status"] == "forming"
    refused = client.post(f"/api/quotes/{quote()['id']}/refuse", headers=auth(keys, "alice"))
    assert refused.status_code == 200, refused.text
    lost = client.get(url, headers=coordinator).json()
    assert lost["status"] == "lost"
    assert [e["to_status"] for e in lost["events"]] == [
        "open",
        "forming",
        *("quoted", "forming") * 3,
        "quoted",
        "lost",
    ]


# A call for tenders ---------------------------------------------------------------------------

BUYER = "comune-di-bologna"
STEEL, PAINT = "steel-sheet-10mm", "paint-ral7016"
SUPPLIERS = {  # id: (place, item, unit price, lead time in days)
    "steel-co": ((45.46, 9.19), STEEL, 50.0, 2.0),  # Milan
    "bologna-paints": ((44.50, 11.33), PAINT, 14.0, 1.0),  # by the site
    "far-paints": ((45.0, 9.0), PAINT, 10.0, 1.0),  # cheaper, but not local
}
# Who answers what: metal cuts (only its laser takes 10 mm) and welds, finish paints; finish
# declines the cutting, lead has no paint line.
TENDER_ANSWERS: dict[tuple[str, str], dict[str, Any] | str] = {
    ("p1", "metal"): {"price": 1500.0},
    ("p1", "finish"): "our laser cuts 8 mm at most",
    ("p2", "metal"): {"price": 1200.0},
    ("p3", "finish"): {"price": 600.0},
    ("p3", "lead"): "no paint line",
}


def _tender(client: TestClient, keys: dict[str, str], **fields: Any) -> Any:
    """Tram-stop shelters for the city: cut, weld, paint 200 frames, 5 % of the value from
    within 25 km of the depot."""
    body: dict[str, Any] = {
        "title": "Tram-stop shelter frames",
        "due_at": _soon(30),
        "site": SITE,
        "budget": 20_000,
        "currency": "EUR",
        "customer_id": BUYER,
        "local_content": {"min_share": 0.05, "within_km": 25},
        "processes": [
            {
                "process": "laser_cutting",
                "requirements": {"max_thickness_steel_mm": 10},
                "quantity": 200,
                "work_minutes": 240,
                "materials": [{"item": STEEL, "quantity": 40, "unit": "m2", "unit_cost": 60}],
            },
            {"process": "welding", "quantity": 200, "work_minutes": 300, "predecessors": ["p1"]},
            {
                "process": "painting",
                "quantity": 200,
                "work_minutes": 180,
                "predecessors": ["p2"],
                "materials": [{"item": PAINT, "quantity": 30, "unit": "l", "unit_cost": 15}],
            },
        ],
        **fields,
    }
    return client.post("/api/opportunities", json=body, headers=auth(keys, "coordinator"))


def _form_tender(
    client: TestClient, keys: dict[str, str], answers: dict[tuple[str, str], Any]
) -> tuple[str, dict[str, Any]]:
    """A tender of the dynamic network, its invitations answered, its consortium formed."""
    coordinator = auth(keys, "coordinator")
    network = client.app.state.context.settings.network  # type: ignore[attr-defined]
    client.patch(f"/api/networks/{network}", json={"kind": "dynamic"}, headers=coordinator)
    created = _tender(client, keys)
    assert created.status_code == 201, created.text
    opportunity_id = created.json()["id"]
    candidates: dict[str, list[str]] = {}
    for step, unit in answers:
        candidates.setdefault(step, []).append(unit)
    invited = client.post(
        f"/api/opportunities/{opportunity_id}/work-invitations",
        json={"deadline": _soon(2), "candidates": candidates},
        headers=coordinator,
    )
    assert invited.status_code == 201, invited.text
    for invitation in invited.json():
        answer = answers[(invitation["step"], invitation["unit_id"])]
        body = (
            {"answer": "decline", "reason": answer}
            if isinstance(answer, str)
            else {"answer": "accept", "earliest_start": _soon(1), "earliest_end": _soon(20)}
            | answer
        )
        answered = client.post(
            f"/api/work-invitations/{invitation['id']}/answer",
            json=body,
            headers=auth(keys, invitation["unit_id"]),
        )
        assert answered.status_code == 200, answered.text
    formed = client.post(
        f"/api/opportunities/{opportunity_id}/consortium",
        json={"terms": {"payment_terms": "60 days", "penalties": "0.5 % a day late"}},
        headers=coordinator,
    )
    assert formed.status_code == 201, formed.text
    return opportunity_id, formed.json()


def _accept_all(client: TestClient, keys: dict[str, str], consortium: dict[str, Any]) -> None:
    for member in consortium["members"]:
        if member["unit_id"] is not None:
            accepted = client.post(
                f"/api/consortia/{consortium['id']}/acceptances",
                json={"revision": consortium["revision"]},
                headers=auth(keys, member["unit_id"]),
            )
            assert accepted.status_code == 200, accepted.text


def _suppliers(client: TestClient, keys: dict[str, str]) -> None:
    """The network's suppliers of the tender's materials."""
    for supplier_id, ((latitude, longitude), item, price, days) in SUPPLIERS.items():
        body = {
            "id": supplier_id,
            "company": supplier_id,
            "latitude": latitude,
            "longitude": longitude,
            "country": "IT",
            "offers": {item: {"unit_price": price, "lead_time_days": days}},
        }
        made = client.post("/api/suppliers", json=body, headers=auth(keys, "coordinator"))
        assert made.status_code in (201, 409), made.text  # 409: another test made it


def test_a_call_for_tenders_is_quoted_confirmed_made_delivered_and_ledgered(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = api
    context: AppContext = client.app.state.context  # type: ignore[attr-defined]
    coordinator = auth(keys, "coordinator")
    keys[BUYER] = make_key(context, "customer", customer_id=BUYER)
    buyer = auth(keys, BUYER)
    _suppliers(client, keys)

    # The local-content rule takes the paint from the supplier by the site, dearer than the far one.
    opportunity_id, consortium = _form_tender(client, keys, TENDER_ANSWERS)
    members = {m["party_id"]: m for m in consortium["members"]}
    assert {p: (m["role"], m["steps"]) for p, m in members.items()} == {
        "metal": ("lead", ["p1", "p2"]),
        "finish": ("partner", ["p3"]),
        "supplier:bologna-paints": ("local_supplier", [f"material:{PAINT}"]),
        "supplier:steel-co": ("supplier", [f"material:{STEEL}"]),
    }
    assert members["supplier:bologna-paints"]["price"] == 30 * 14.0
    _accept_all(client, keys, consortium)
    page = _page(client, keys, "coordinator", f"/consortia/{consortium['id']}")
    assert 'id="quote-opportunity"' in page  # the consortium page quotes a tender too

    # The paint dearer since the consortium agreed 14.0: the quote bills the agreed price, and
    # the confirmation buys at it, so the ledger pays the supplier what the customer paid for it.
    paint_offer = f"/api/suppliers/bologna-paints/offers/{PAINT}"
    dearer = client.put(
        paint_offer, json={"unit_price": 16.0, "lead_time_days": 1.0}, headers=coordinator
    )
    assert dearer.status_code == 200, dearer.text
    quoted = client.post(f"/api/opportunities/{opportunity_id}/quote", headers=coordinator)
    assert quoted.status_code == 201, quoted.text
    quote = quoted.json()
    assert (quote["configuration_id"], quote["revision"]) == (None, None)
    assert (quote["opportunity_id"], quote["customer_id"]) == (opportunity_id, BUYER)
    work = {op["step"]: op for op in quote["work"]["operations"]}
    assert {step: (op["units"], op["predecessors"]) for step, op in work.items()} == {
        "p1": (["metal"], []),
        "p2": (["metal"], ["p1"]),
        "p3": (["finish"], ["p2"]),
    }
    assert work["p1"]["requirements"] == {"max_thickness_steel_mm": 10}
    assert work["p2"]["duration_s"] == 300 * 60  # the whole line's time, for its 200 frames
    assert {step: op["quantity"] for step, op in work.items()} == dict.fromkeys(work, 200)
    with context.session_factory() as session:
        holds = session.scalars(select(CapacityHold).where(CapacityHold.quote_id == quote["id"]))
        assert sorted((h.step, h.unit_id) for h in holds) == [
            ("p1", "metal"),
            ("p2", "metal"),
            ("p3", "finish"),
        ]

    # The price: each member's agreed price, the suppliers', transport between the plants, margin.
    breakdown = client.get(f"/api/quotes/{quote['id']}/breakdown", headers=coordinator).json()
    amounts: dict[tuple[str, str | None], float] = {}
    for line in breakdown["lines"]:
        key = (line["kind"], line["unit_id"] or line["item"])
        amounts[key] = amounts.get(key, 0.0) + line["amount"]
    assert amounts[("operation", "metal")] == pytest.approx(2700.0, abs=0.02)
    assert amounts[("operation", "finish")] == pytest.approx(600.0)
    assert amounts[("material", STEEL)] == 40 * 50.0
    assert amounts[("material", PAINT)] == 30 * 14.0  # the local supplier's, as agreed
    transport = [line for line in breakdown["lines"] if line["kind"] == "transport"]
    assert [(t["step"], t["amount"] > 0) for t in transport] == [("p3", True)]  # metal → finish
    # The painted frames go from finish (its last line, p3) to the site, by road.
    (delivery,) = [line for line in breakdown["lines"] if line["kind"] == "delivery"]
    road_km = distance_km(Location(*FINISH_AT), Location(SITE["latitude"], SITE["longitude"]))
    assert (delivery["unit_id"], delivery["step"]) == ("finish", "p3")
    assert delivery["quantity"] == pytest.approx(road_km * ROAD_DETOUR_FACTOR, abs=0.05)
    assert delivery["amount"] == pytest.approx(delivery["quantity"] * delivery["rate"], abs=0.01)
    assert "Bologna depot" in delivery["description"]
    subtotal = 2700 + 600 + 2000 + 420 + transport[0]["amount"] + delivery["amount"]
    assert breakdown["subtotal"] == pytest.approx(subtotal, abs=0.05)
    # The promise is the frames' arrival at the site (the painting's end plus the road) with
    # the safety margin on the lead time.
    settings = context.settings.orders
    with context.session_factory() as session:
        painted = session.scalars(
            select(CapacityHold.ends_at).where(
                CapacityHold.quote_id == quote["id"], CapacityHold.step == "p3"
            )
        ).one()
    road = timedelta(
        hours=road_hours(Location(*FINISH_AT), Location(SITE["latitude"], SITE["longitude"]))
        / settings.time_scale
    )
    assert quote["work"]["delivery"] == [
        {
            "unit_id": "finish",
            "steps": ["p3"],
            "site": "Bologna depot",
            "km": delivery["quantity"],
            "hours": pytest.approx(road.total_seconds() / 3600 * settings.time_scale, abs=0.001),
        }
    ]
    quoted_at = datetime.fromisoformat(quote["created_at"])
    promised = quoted_at + (painted + road - quoted_at) * (1 + settings.promise_margin)
    assert abs(datetime.fromisoformat(quote["promised_at"]) - promised) < timedelta(seconds=1)
    assert breakdown["total"] == quote["price"] == breakdown["subtotal"] + breakdown["margin"]
    seen = client.get(f"/api/quotes/{quote['id']}/breakdown", headers=buyer).json()
    assert (seen["total"], seen["opportunity_id"], seen["options"], seen["lines"]) == (
        quote["price"],
        opportunity_id,
        None,
        [],
    )
    own = client.get(f"/api/quotes/{quote['id']}/breakdown", headers=auth(keys, "finish")).json()
    assert {line["unit_id"] for line in own["lines"]} == {"finish"}
    assert delivery in own["lines"]  # finish ships the frames: it sees where, and for how much
    shown = _page(client, keys, "finish", f"/quotes/{quote['id']}")
    assert '<tr class="delivery">' in shown and "Bologna depot" in shown
    work_only = sum(line["amount"] for line in own["lines"] if line["kind"] == "operation")
    assert f'id="own-sum">{work_only:.2f}<' in shown  # its share is its work, not the transport
    lead = client.get(f"/api/quotes/{quote['id']}/breakdown", headers=auth(keys, "metal")).json()
    assert {line["kind"] for line in lead["lines"]} == {"operation"}
    assert "call for tenders" in _page(client, keys, BUYER, f"/quotes/{quote['id']}")
    assert quote["id"] in _page(client, keys, BUYER, f"/opportunities/{opportunity_id}")

    # The buyer confirms, once: the order is the tender's, and it buys the materials.
    other = client.post(f"/api/quotes/{quote['id']}/confirm", headers=auth(keys, "alice"))
    assert other.status_code == 404
    confirmed = client.post(f"/api/quotes/{quote['id']}/confirm", headers=buyer)
    cheaper = client.put(  # the module's other tests know the paint at 14.0
        paint_offer, json={"unit_price": 14.0, "lead_time_days": 1.0}, headers=coordinator
    )
    assert cheaper.status_code == 200, cheaper.text
    assert confirmed.status_code == 201, confirmed.text
    order = confirmed.json()
    again = client.post(f"/api/quotes/{quote['id']}/confirm", headers=buyer)
    assert again.status_code == 409 and order["id"] in again.json()["message"]
    assert (order["configuration_id"], order["family_id"], order["values"]) == (None, None, {})
    assert (order["opportunity_id"], order["customer_id"]) == (opportunity_id, BUYER)
    won = client.get(f"/api/opportunities/{opportunity_id}", headers=coordinator).json()
    assert [e["to_status"] for e in won["events"]] == ["open", "forming", "quoted", "won"]
    purchases = client.get(f"/api/purchases?order_id={order['id']}", headers=coordinator).json()
    bought = {p["item"]: (p["supplier_id"], p["unit_price"], p["steps"]) for p in purchases}
    assert bought == {STEEL: ("steel-co", 50.0, ["p1"]), PAINT: ("bologna-paints", 14.0, ["p3"])}

    # The real planner puts each line on its member, after its materials are in; they make it.
    _replan(context)
    expected = {p["item"]: datetime.fromisoformat(p["expected_at"]) for p in purchases}
    with context.session_factory() as session:
        planned = {
            op.step: op
            for op in session.scalars(
                select(OrderOperation).where(OrderOperation.order_id == order["id"])
            )
        }
        assert planned["p1"].planned_start is not None and planned["p3"].planned_start is not None
        assert planned["p1"].planned_start >= expected[STEEL]
        assert planned["p3"].planned_start >= max(expected[PAINT], planned["p2"].planned_end)
    assert _produce(context, order["id"]) == {"p1": "metal", "p2": "metal", "p3": "finish"}
    made = client.get(f"/api/orders/{order['id']}", headers=buyer).json()["operations"]
    assert [(op["step"], op["quantity"]) for op in made] == [("p1", 200), ("p2", 200), ("p3", 200)]
    completed = client.get(f"/api/orders/{order['id']}", headers=buyer).json()
    assert completed["status"] == "completed" and completed["progress"] == 1.0
    assert client.get("/api/products", headers=buyer).json() == []  # no catalogue product
    for who in ("coordinator", BUYER):
        assert "Call for tenders" in _page(client, keys, who, f"/orders/{order['id']}")
    assert order["id"] in _page(client, keys, BUYER, "/")
    installed = {"field_asset": {"unit_id": "finish", "asset": "paint-1"}}
    url = f"/api/orders/{order['id']}/deliver"
    as_asset = client.post(url, json=installed, headers=coordinator)
    assert as_asset.status_code == 409 and "no product" in as_asset.json()["message"]
    assert client.get(f"/api/orders/{order['id']}", headers=buyer).json()["status"] == "completed"
    delivered = client.post(f"/api/orders/{order['id']}/deliver", headers=coordinator)
    assert delivered.status_code == 200, delivered.text
    twice = client.post(f"/api/orders/{order['id']}/deliver", headers=coordinator)
    assert twice.status_code == 409

    # The ledger pays each supplier what was bought from it, once (its consortium share is 0:
    # no share on top), and the member units their agreed shares of what the fee and the
    # purchases leave.
    ledger = client.get(f"/api/orders/{order['id']}/ledger", headers=coordinator).json()
    fee, *lines = ledger["entries"]
    assert fee["unit_id"] is None and fee["revenue"] == ledger["network_fee"]
    units = {p: m for p, m in members.items() if m["unit_id"] is not None}
    suppliers = {p for p, m in members.items() if m["unit_id"] is None}
    assert suppliers and all(members[p]["revenue_share"] == 0.0 for p in suppliers)
    by_party = {line["unit_id"]: line for line in lines}
    assert {p: line["basis"] for p, line in by_party.items()} == (
        dict.fromkeys(units, "agreed") | dict.fromkeys(suppliers, "purchase")
    )
    paid: dict[str, float] = {}
    for p in purchases:
        party = f"supplier:{p['supplier_id']}"
        paid[party] = paid.get(party, 0.0) + p["quantity"] * p["unit_price"]
    assert {p: by_party[p]["revenue"] for p in suppliers} == pytest.approx(paid)
    rest = ledger["price"] - ledger["network_fee"] - sum(paid.values())
    for party, member in units.items():
        assert by_party[party]["share"] == pytest.approx(member["revenue_share"], abs=1e-6)
        assert by_party[party]["revenue"] == pytest.approx(rest * member["revenue_share"], abs=0.05)
    assert sum(e["revenue"] for e in ledger["entries"]) == pytest.approx(quote["price"])
    assert order["id"] in _page(client, keys, "coordinator", f"/ledger/{order['id']}")
    mine = client.get(f"/api/orders/{order['id']}/ledger", headers=auth(keys, "metal")).json()
    assert [e["unit_id"] for e in mine["entries"]] == ["metal"]


def test_bad_tenders_and_quotes_are_refused_with_a_clear_4xx_and_nothing_lost(
    api: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = api
    coordinator = auth(keys, "coordinator")
    before = len(client.get("/api/opportunities", headers=coordinator).json())
    for fields, words in (
        ({"processes": [{"process": "juggling", "work_minutes": 60}]}, "process"),
        ({"customer_id": None}, "customer_id: a call for tenders names its customer"),
        (
            {"processes": [{"process": "welding", "work_minutes": 60, "predecessors": ["p2"]}]},
            "line p1 can follow only earlier lines (none), not p2",
        ),
    ):
        refused = _tender(client, keys, **fields)
        assert refused.status_code == 422 and words in refused.text, refused.text
    assert len(client.get("/api/opportunities", headers=coordinator).json()) == before

    # Quoting a tender before it has a consortium: nothing is quoted or held.
    quotes_before = len(client.get("/api/quotes", headers=coordinator).json())
    opportunity_id = _tender(client, keys).json()["id"]
    url = f"/api/opportunities/{opportunity_id}"
    forming = client.post(f"{url}/status", json={"to": "forming"}, headers=coordinator)
    assert forming.status_code == 200, forming.text
    early = client.post(f"{url}/quote", headers=coordinator)
    assert early.status_code == 409 and "has no consortium yet" in early.json()["message"]

    # A member that accepted a line its machines cannot do: the quote says which, holds nothing.
    _suppliers(client, keys)
    answers = {**TENDER_ANSWERS, ("p1", "finish"): {"price": 900.0}}
    lied_id, consortium = _form_tender(client, keys, answers)
    assert {m["party_id"]: m["steps"] for m in consortium["members"]}["finish"] == ["p1", "p3"]
    _accept_all(client, keys, consortium)
    impossible = client.post(f"/api/opportunities/{lied_id}/quote", headers=coordinator)
    assert impossible.status_code == 422, impossible.text
    assert "p1" in impossible.json()["message"] and "finish" in impossible.json()["message"]
    assert len(client.get("/api/quotes", headers=coordinator).json()) == quotes_before
    for opportunity in (opportunity_id, lied_id):
        read = client.get(f"/api/opportunities/{opportunity}", headers=coordinator).json()
        assert read["status"] == "forming"
