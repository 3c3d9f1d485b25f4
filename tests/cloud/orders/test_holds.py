"""Concurrent quotes and holds, on SQLite and PostgreSQL: a quote holds the machine time of its
what-if plan, two quotes made at the same instant in two sessions never hold the same time, the
dispatcher's plan keeps out of held time, and holds end with the quote."""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from cloud.auth.models import Actor, Role
from cloud.codesign import service as codesign_service
from cloud.codesign.models import ConfigurationCreate
from cloud.context import AppContext
from cloud.database import transaction
from cloud.dispatch import flows as dispatch_flows
from cloud.main import build_context
from cloud.orders import flows as order_flows
from cloud.orders.models import CapacityHold, OrderOperation, QuoteCreate, QuoteStatus
from tests.cloud.orders.network import ROBOT_CELL, build_network

ALICE = Actor(principal_id=1, name="Alice", role=Role.CUSTOMER, customer_id="alice")
Interval = tuple[datetime, datetime, str]


@pytest.fixture
def context(settings_factory: Any) -> Iterator[AppContext]:
    context = build_context(settings_factory(orders={"plan_time_limit_s": 0.05}))
    build_network(context)
    yield context
    context.engine.dispose()


def configuration(context: AppContext) -> str:
    with transaction(context.session_factory) as session:
        return codesign_service.create_configuration(
            session=session,
            actor=ALICE,
            families=context.families,
            spec=ConfigurationCreate(family_id="robotic-cell", values=ROBOT_CELL),
        ).id


def make_quote(context: AppContext, configuration_id: str, now: datetime) -> str:
    with transaction(context.session_factory) as session:
        return order_flows.create_quote(
            session=session,
            actor=ALICE,
            families=context.families,
            settings=context.settings.orders,
            network_id=context.settings.network,
            spec=QuoteCreate(configuration_id=configuration_id),
            now=now,
        ).id


def taken(context: AppContext) -> dict[str, list[Interval]]:
    """Per machine, the held and the planned intervals, with whose they are."""
    found: dict[str, list[Interval]] = defaultdict(list)
    with transaction(context.session_factory) as session:
        for hold in session.scalars(select(CapacityHold)):
            found[f"{hold.unit_id}/{hold.machine}"].append(
                (hold.starts_at, hold.ends_at, hold.quote_id)
            )
        for op in session.scalars(select(OrderOperation)):
            if op.planned_start is not None and op.planned_end is not None:
                start = op.planned_setup_start or op.planned_start
                found[f"{op.unit_id}/{op.machine}"].append((start, op.planned_end, op.order_id))
    return found


def overlaps(found: dict[str, list[Interval]]) -> list[tuple[str, Interval, Interval]]:
    clashes = []
    for machine, spans in found.items():
        spans.sort()
        for before, after in itertools.pairwise(spans):
            if after[0] < before[1] and after[2] != before[2]:
                clashes.append((machine, before, after))
    return clashes


def test_concurrent_quotes_never_hold_the_same_time(
    context: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = datetime.now(UTC)
    configurations = [configuration(context) for _ in range(2)]
    start = threading.Barrier(2)
    # Both quotes would read the plan together here if nothing kept them apart; with the lock
    # the second waits before planning, and the first goes on after a short wait.
    planning_together = threading.Barrier(2, timeout=0.5)
    what_if = dispatch_flows.what_if

    def meeting_what_if(**kwargs: Any) -> dispatch_flows.WhatIf:
        with contextlib.suppress(threading.BrokenBarrierError):
            planning_together.wait()
        return what_if(**kwargs)

    monkeypatch.setattr(dispatch_flows, "what_if", meeting_what_if)
    quotes: list[str] = []
    errors: list[BaseException] = []

    def run(configuration_id: str) -> None:
        start.wait()
        try:
            quotes.append(make_quote(context, configuration_id, now))
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in configurations]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and len(quotes) == 2
    held = taken(context)
    # Both quotes were planned on the same empty network at the same instant: only the lock
    # keeps the second off the first one's machine time.
    assert {q for spans in held.values() for _, _, q in spans} == set(quotes)
    assert overlaps(held) == []

    # The dispatcher plans an order around both holds.
    monkeypatch.setattr(dispatch_flows, "what_if", what_if)
    order_quote = make_quote(context, configuration(context), now)
    with transaction(context.session_factory) as session:
        order_flows.confirm_quote(
            session=session,
            actor=ALICE,
            network_id=context.settings.network,
            quote_id=order_quote,
            now=now,
        )
    with transaction(context.session_factory) as session:
        assert dispatch_flows.replan(
            session=session,
            network_id=context.settings.network,
            settings=context.settings.orders,
            now=now,
        )
    after = taken(context)
    assert not any(q == order_quote for spans in after.values() for _, _, q in spans)
    assert overlaps(after) == []


def test_holds_end_with_the_quote(context: AppContext) -> None:
    now = datetime.now(UTC)
    first = make_quote(context, configuration(context), now)
    with transaction(context.session_factory) as session:
        holds = session.scalars(select(CapacityHold).where(CapacityHold.quote_id == first)).all()
        windows = dispatch_flows.held_windows(session=session, now=now)
        assert len(holds) == len(windows) > 0
        assert all(h.valid_until > now for h in holds)
        assert dispatch_flows.held_windows(session=session, now=holds[0].valid_until) == []
        order = order_flows.confirm_quote(
            session=session,
            actor=ALICE,
            network_id=context.settings.network,
            quote_id=first,
            now=now,
        )
        # The held time became the order's planned operations.
        operations = session.scalars(
            select(OrderOperation).where(OrderOperation.order_id == order.id)
        ).all()
        assert {(op.step, op.unit_id, op.machine, op.planned_end) for op in operations} == {
            (h.step, h.unit_id, h.machine, h.ends_at) for h in holds
        }
    second = make_quote(context, configuration(context), now)
    with transaction(context.session_factory) as session:
        order_flows.release_quote(
            session=session,
            actor=ALICE,
            network_id=context.settings.network,
            quote_id=second,
            status=QuoteStatus.REFUSED,
            now=now,
        )
        assert session.scalars(select(CapacityHold)).all() == []
    # An expired quote's holds are cleared by the next quote, which may take that time.
    expired = make_quote(context, configuration(context), now)
    later = now + timedelta(seconds=context.settings.orders.quote_validity_s + 1)
    make_quote(context, configuration(context), later)
    with transaction(context.session_factory) as session:
        left = {h.quote_id for h in session.scalars(select(CapacityHold))}
    assert expired not in left and len(left) == 1
