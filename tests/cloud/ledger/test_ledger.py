"""The ledger: the split (a specification of :mod:`cloud.ledger.split`), and a delivered
order's ledger through the API, written once and shown by scope."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cloud.config import LedgerSettings, Settings
from cloud.database import transaction
from cloud.ledger import service
from cloud.ledger.models import Basis
from cloud.ledger.split import AgreedTerms, MemberWork, Purchase, split
from cloud.orders.models import Order
from tests.cloud.ledger.delivered import RATES, context_of, delivered_order
from tests.cloud.orders.network import auth, served

HOUR = 3600.0


def test_the_fee_first_then_members_by_cost_adding_up_to_the_price() -> None:
    lines = split(
        price=1000.0,
        fee_rate=0.05,
        work=[
            MemberWork("b", 2 * HOUR, 50.0),
            MemberWork("a", 1 * HOUR, 100.0),
            MemberWork("b", 1 * HOUR, 50.0),
        ],
    )
    fee, a, b = lines
    assert (fee.unit_id, fee.revenue) == (None, 50.0)
    assert (a.unit_id, a.cost, a.work_s, a.basis) == ("a", 100.0, HOUR, Basis.COST)
    assert (b.unit_id, b.cost, b.work_s) == ("b", 150.0, 3 * HOUR)
    assert (a.revenue, b.revenue) == (380.0, 570.0)  # 950 in the ratio 100 : 150
    assert sum(line.revenue for line in lines) == 1000.0


def test_agreed_terms_override_and_a_member_without_work_is_paid() -> None:
    lines = split(
        price=100.0,
        fee_rate=0.1,
        work=[MemberWork("a", HOUR, 10.0)],
        agreed=AgreedTerms(shares={"a": 2, "supplier": 1}, costs={"supplier": 20.0}),
    )
    _, a, supplier = lines
    assert (a.basis, a.share, a.revenue, a.cost) == (Basis.AGREED, 0.666667, 60.0, 10.0)
    assert (supplier.share, supplier.revenue, supplier.cost) == (0.333333, 30.0, 20.0)


def test_suppliers_are_paid_their_purchases_and_members_split_the_rest() -> None:
    lines = split(
        price=1000.0,
        fee_rate=0.05,
        work=[MemberWork("a", HOUR, 100.0), MemberWork("b", HOUR, 300.0)],
        agreed=AgreedTerms(shares={"a": 0.25, "b": 0.75}),
        purchases=[Purchase("supplier:steel", 150.0), Purchase("supplier:paint", 40.004)],
    )
    fee, a, b, paint, steel = lines
    assert fee.revenue == 50.0
    assert [(p.unit_id, p.revenue, p.cost, p.share, p.basis) for p in (paint, steel)] == [
        ("supplier:paint", 40.0, 40.0, 0.0, Basis.PURCHASE),
        ("supplier:steel", 150.0, 150.0, 0.0, Basis.PURCHASE),
    ]
    assert (a.revenue, b.revenue) == (190.0, 570.0)  # 1000 - 50 - 190, as 1 : 3
    assert sum(line.revenue for line in lines) == 1000.0


def test_a_supplier_named_by_two_purchases_is_paid_both() -> None:
    lines = split(
        price=100.0,
        fee_rate=0.0,
        work=[MemberWork("a", HOUR, None)],
        purchases=[Purchase("supplier:x", 10.004), Purchase("supplier:x", 20.004)],
    )
    _, a, x = lines
    assert (x.unit_id, x.revenue, x.cost, a.revenue) == ("supplier:x", 30.01, 30.01, 69.99)
    assert sum(line.revenue for line in lines) == 100.0


def test_purchases_beyond_the_price_show_as_the_members_loss() -> None:
    lines = split(
        price=100.0,
        fee_rate=0.1,
        work=[MemberWork("a", HOUR, 10.0)],
        purchases=[Purchase("supplier:steel", 120.0)],
    )
    _, a, steel = lines
    assert (a.revenue, steel.revenue) == (-30.0, 120.0)
    assert sum(line.revenue for line in lines) == 100.0


def test_without_every_rate_work_time_splits_and_cents_add_up() -> None:
    lines = split(
        price=100.0,
        fee_rate=0.0,
        work=[MemberWork(unit, HOUR, rate) for unit, rate in [("a", 10.0), ("b", None), ("c", 5)]],
    )
    assert {line.basis for line in lines[1:]} == {Basis.WORK}
    assert [line.revenue for line in lines[1:]] == [33.34, 33.33, 33.33]
    assert lines[2].cost == 0.0  # no rate, no cost


@pytest.fixture
def delivered(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str], str]]:
    with served(settings) as (client, keys):
        yield client, keys, delivered_order(client, keys, context_of(client))


def test_a_delivered_orders_ledger_is_written_once_and_shown_by_scope(
    delivered: tuple[TestClient, dict[str, str], str],
) -> None:
    client, keys, order_id = delivered
    ledger = client.get(f"/api/orders/{order_id}/ledger", headers=auth(keys, "coordinator"))
    assert ledger.status_code == 200, ledger.text
    body = ledger.json()
    fee, *members = body["entries"]
    assert fee["kind"] == "network_fee" and fee["unit_id"] is None
    assert fee["revenue"] == body["network_fee"] == round(body["price"] * 0.05, 2)
    assert [m["unit_id"] for m in members] == sorted(RATES)
    for member in members:
        assert member["hourly_rate"] == RATES[member["unit_id"]]
        assert member["cost"] == pytest.approx(
            member["work_s"] / HOUR * member["hourly_rate"], abs=0.01
        )
        assert member["basis"] == "cost" and member["margin"] == round(
            member["revenue"] - member["cost"], 2
        )
    assert round(sum(e["revenue"] for e in body["entries"]), 2) == body["price"]

    again = client.post(f"/api/orders/{order_id}/deliver", headers=auth(keys, "coordinator"))
    assert again.status_code == 409
    context: Any = client.app.state.context  # type: ignore[attr-defined]
    with transaction(context.session_factory) as session:
        order = session.get(Order, order_id)
        assert order is not None
        rewritten = service.record_delivery(
            session=session,
            order=order,
            settings=LedgerSettings(network_fee=0.5),
            now=datetime.now(UTC),
        )
        assert [e.revenue for e in rewritten] == [e["revenue"] for e in body["entries"]]
    assert (
        client.get(f"/api/orders/{order_id}/ledger", headers=auth(keys, "coordinator")).json()
        == body
    )

    own = client.get(f"/api/orders/{order_id}/ledger", headers=auth(keys, "metal")).json()
    assert [e["unit_id"] for e in own["entries"]] == ["metal"]
    assert own["price"] is None and own["network_fee"] is None
    assert (
        client.get(f"/api/orders/{order_id}/ledger", headers=auth(keys, "alice")).status_code == 403
    )
    totals = client.get("/api/ledger/members", headers=auth(keys, "metal")).json()
    assert [(t["unit_id"], t["orders"]) for t in totals] == [("metal", 1)]
    assert [e["unit_id"] for e in client.get("/api/ledger", headers=auth(keys, "lead")).json()] == [
        "lead"
    ]

    exported = client.get(f"/api/orders/{order_id}/ledger.csv", headers=auth(keys, "coordinator"))
    assert exported.headers["content-type"] == "text/csv; charset=utf-8"
    assert f'filename="ledger-{order_id}.csv"' in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [(r["kind"], r["unit_id"], r["revenue"]) for r in rows] == [
        (e["kind"], e["unit_id"] or "", f"{e['revenue']:.2f}") for e in body["entries"]
    ]
    mine = client.get("/api/ledger.csv", headers=auth(keys, "finish"))
    assert [r["unit_id"] for r in csv.DictReader(io.StringIO(mine.text))] == ["finish"]


@pytest.mark.parametrize("accepted", [{"lead", "metal", "finish"}, {"lead", "metal"}])
def test_a_consortiums_accepted_shares_are_the_agreed_terms(
    settings: Settings, accepted: set[str]
) -> None:
    shares = {"lead": 0.5, "metal": 0.3, "finish": 0.1, "bologna-metalli": 0.1}
    with served(settings) as (client, keys):
        order_id = delivered_order(
            client, keys, context_of(client), {"shares": shares, "accepted": accepted}
        )
        body = client.get(
            f"/api/orders/{order_id}/ledger", headers=auth(keys, "coordinator")
        ).json()
    members = {e["unit_id"]: e for e in body["entries"][1:]}
    if len(accepted) < 3:  # finish has not accepted: not agreed yet, split by cost
        assert {e["basis"] for e in members.values()} == {"cost"}
        assert "bologna-metalli" not in members
        return
    assert {e["basis"] for e in members.values()} == {"agreed"}
    # bologna-metalli is a supplier (no unit) and sold nothing for this order: it is paid for
    # purchases alone, never with a share, so the units' agreed shares scale up to the whole.
    assert "bologna-metalli" not in members
    rest = body["price"] - body["network_fee"]
    for party in ("lead", "metal", "finish"):
        share = shares[party] / 0.9
        assert members[party]["share"] == pytest.approx(share, abs=1e-6)
        assert members[party]["revenue"] == pytest.approx(rest * share, abs=0.02)
    assert members["metal"]["cost"] > 0
