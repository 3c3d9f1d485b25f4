"""A delivered order made of real job events: quoted and confirmed through the API, each step
dispatched to a machine of the test network and followed by the dispatcher's own job-event
handling (a rejection, ends with the machine's actual times and quantity), then delivered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from cloud.consortia.models import (
    Consortium,
    ConsortiumMember,
    ConsortiumRevision,
    FormedBy,
    MemberRole,
    TermsAcceptance,
)
from cloud.context import AppContext
from cloud.database import transaction
from cloud.dispatch import service as dispatch_service
from cloud.opportunities.models import Opportunity, OpportunitySource, OpportunityStatus
from cloud.orders import service as orders_service
from cloud.orders.models import OperationStatus, Order, OrderOperation
from protocols.messages import JobEvent
from tests.cloud.orders.network import ROBOT_CELL, UNITS, auth

Client = httpx.Client
"""A TestClient is one too: in-process or over HTTP, the same calls."""
RATES = {"lead": 60.0, "metal": 80.0, "finish": 50.0}
START = timedelta(hours=4)
"""How long ago the steps were dispatched (inside the scorecards' window, ended by now)."""


def context_of(client: TestClient) -> AppContext:
    """The coordinator's context behind an in-process client."""
    context: AppContext = client.app.state.context  # type: ignore[attr-defined]
    return context


def set_rates(client: Client, keys: dict[str, str]) -> None:
    for unit_id, rate in RATES.items():
        response = client.patch(
            f"/api/units/{unit_id}",
            json={"sharing_policy": {"hourly_rate": rate, "share_telemetry": True}},
            headers=auth(keys, "coordinator"),
        )
        assert response.status_code == 200, response.text


def confirmed_order(client: Client, keys: dict[str, str]) -> str:
    headers = auth(keys, "alice")
    values = {"family_id": "robotic-cell", "values": ROBOT_CELL, "comment": "ledger"}
    configuration = client.post("/api/configurations", json=values, headers=headers).json()
    quote = client.post(
        "/api/quotes", json={"configuration_id": configuration["id"]}, headers=headers
    ).json()
    order = client.post(f"/api/quotes/{quote['id']}/confirm", headers=headers)
    assert order.status_code == 201, order.text
    return str(order.json()["id"])


def machine_for(process: str) -> tuple[str, str]:
    return next(
        (unit_id, m["machine"])
        for unit_id, (_fields, machines) in UNITS.items()
        for m in machines
        if m["capabilities"][0]["process"] == process
    )


def produce(context: AppContext, order_id: str, *, rejecting: str, late: str) -> None:
    """Every step on the first machine that can do it: ``rejecting``'s first step is rejected
    once, then sent again; ``late``'s first step ends two hours after its planned end."""
    network = context.settings.network
    base = datetime.now(UTC) - START
    seen: set[str] = set()
    with transaction(context.session_factory) as session:
        query = select(OrderOperation).where(OrderOperation.order_id == order_id)
        for op in session.scalars(query.order_by(OrderOperation.position)):
            unit_id, machine = machine_for(op.process)
            first = unit_id not in seen
            seen.add(unit_id)
            if first and unit_id == rejecting:
                _dispatch(op, unit_id, machine, base)
                _follow(session, network, unit_id, op, "rejected", base, reason="no fixture")
            _dispatch(op, unit_id, machine, base)
            end = base + timedelta(hours=3 if first and unit_id == late else 0.5)
            _follow(
                session,
                network,
                unit_id,
                op,
                "ended",
                end,
                state="Ended",
                produced_quantity=1,
                actual_start=end - timedelta(seconds=op.duration_s),
                actual_end=end,
            )
        orders_service.advance_orders(session=session, now=base + timedelta(hours=3))


def _dispatch(op: OrderOperation, unit_id: str, machine: str, at: datetime) -> None:
    op.attempt += 1
    op.unit_id, op.machine = unit_id, machine
    op.job_order_id = f"{op.order_id}-{op.position}-{op.attempt}"
    op.status = OperationStatus.DISPATCHED
    op.dispatched_at = op.planned_start = at
    op.planned_end = at + timedelta(hours=1)


def _follow(
    session: Any,
    network: str,
    unit_id: str,
    op: OrderOperation,
    kind: str,
    at: datetime,
    **extra: Any,
) -> None:
    event = JobEvent(
        machine=str(op.machine),
        job_order_id=str(op.job_order_id),
        event=kind,
        occurred_at=at,
        **extra,
    )
    dispatch_service.record_job_events(
        session=session, network_id=network, events=[(unit_id, event)], now=at
    )


def form_consortium(
    context: AppContext, order_id: str, shares: dict[str, float], accepted: set[str]
) -> None:
    """The order's configured revision as an opportunity, its consortium with ``shares`` by
    party (a unit of the test network, or a supplier), accepted by the units in ``accepted``."""
    now = datetime.now(UTC)
    with transaction(context.session_factory) as session:
        order = session.get(Order, order_id)
        assert order is not None
        session.add(
            Opportunity(
                id="opp-1",
                network_id=context.settings.network,
                title="Robotic cell",
                source=OpportunitySource.CONFIGURATION,
                configuration_id=order.configuration_id,
                status=OpportunityStatus.WON,
                due_at=order.promised_at,
                site_latitude=44.5,
                site_longitude=11.3,
                site_country="IT",
                budget=order.price,
                currency=order.currency,
                created_by="fixture",
            )
        )
        session.flush()
        session.add(
            Consortium(
                id="con-1",
                opportunity_id="opp-1",
                network_kind="dynamic",
                formed_by=FormedBy.SELECTION,
            )
        )
        session.flush()
        revision = ConsortiumRevision(
            consortium_id="con-1",
            number=1,
            total_cost=order.price,
            currency=order.currency,
            author="fixture",
        )
        session.add(revision)
        session.flush()
        for party, share in shares.items():
            unit_id = party if party in UNITS else None
            session.add(
                ConsortiumMember(
                    revision_id=revision.id,
                    party_id=party,
                    unit_id=unit_id,
                    role=MemberRole.PARTNER,
                    price=0.0,
                    work_share=share,
                    revenue_share=share,
                )
            )
        for unit_id in accepted:
            session.add(
                TermsAcceptance(
                    revision_id=revision.id,
                    unit_id=unit_id,
                    principal_id=0,
                    accepted_by=unit_id,
                    accepted_at=now,
                )
            )


def delivered_order(
    client: Client,
    keys: dict[str, str],
    context: AppContext,
    consortium: dict[str, Any] | None = None,
) -> str:
    """Rates set, an order confirmed, produced (metal rejects once, lead ends late), delivered,
    through ``client`` (in-process or over HTTP) on the coordinator of ``context``; with
    ``consortium`` (form_consortium's shares and accepted), formed before delivery."""
    set_rates(client, keys)
    order_id = confirmed_order(client, keys)
    if consortium is not None:
        form_consortium(context, order_id, **consortium)
    produce(context, order_id, rejecting="metal", late="lead")
    response = client.post(f"/api/orders/{order_id}/deliver", headers=auth(keys, "coordinator"))
    assert response.status_code == 200, response.text
    return order_id
