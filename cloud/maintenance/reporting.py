"""Reliability figures per asset, unit and network, from the tickets' real timestamps.

A failure is a breakdown: a corrective ticket whose asset stopped (an alarm at the policy's
breakdown severity), from that alarm to the ticket's resolution. Warnings and minor alarms open
tickets too, but the asset still runs: they count as alerts, not failures. An asset is observed
from when its unit joined the network (or the period's start, if later), so a machine added an hour
ago is judged over that hour. Figures of several assets add their down and observed times:
availability = 1 - downtime / observed time, MTBF = up time / failures, MTTR = mean time from
breakdown to resolution. Service level: the share of tickets resolved by their due
time, among those resolved or already overdue (an open ticket still in time is not judged).
Plants see their own unit; the cross-member comparison is anonymised (``member 1…n``, ordered
by availability; a plant recognises only its own row).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import own_unit_only, require_role
from cloud.exceptions import InvalidInput, NotFound
from cloud.maintenance import figures
from cloud.maintenance.alerts.models import MaintenanceAlert
from cloud.maintenance.models import ComparisonRow, FiguresRead
from cloud.maintenance.tickets.models import MaintenanceTicket, TicketKind
from cloud.registry.models import Machine, Unit

WEEK = timedelta(days=7)
_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])


def figures_for(
    *,
    session: Session,
    actor: Actor,
    network: str,
    since: datetime,
    until: datetime,
    unit_id: str | None = None,
    asset: str | None = None,
) -> FiguresRead:
    """Figures of the network, a unit or one asset, scoped to the caller."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    if until <= since:
        raise InvalidInput("the period must end after it starts")
    if actor.role is Role.PLANT:
        if unit_id not in (None, actor.unit_id):
            raise NotFound(f"unit {unit_id!r} does not exist")
        unit_id = actor.unit_id
    if asset is not None and unit_id is None:
        raise InvalidInput("an asset is named with its unit_id")
    scope = (asset and f"{unit_id}/{asset}") or unit_id or f"network {network}"
    return compute(session, network, since, until, unit_id=unit_id, asset=asset, scope=scope)


def compute(
    session: Session,
    network: str,
    since: datetime,
    until: datetime,
    *,
    unit_id: str | None,
    asset: str | None,
    scope: str,
) -> FiguresRead:
    tickets = _tickets(session, network, since, until, unit_id, asset)
    observed = _observed_since(session, network, since, unit_id, asset)
    breakdowns: dict[tuple[str, str], list[figures.Failure]] = defaultdict(list)
    repairs = []
    for ticket in tickets:
        if ticket.kind is not TicketKind.CORRECTIVE or ticket.broke_down_at is None:
            continue
        key = (ticket.unit_id, ticket.asset)
        breakdowns[key].append(figures.Failure(ticket.broke_down_at, ticket.resolved_at))
        observed.setdefault(key, since)  # an asset the registry no longer lists, or a product
        if ticket.resolved_at is not None and since <= ticket.resolved_at < until:
            repairs.append((ticket.resolved_at - ticket.broke_down_at).total_seconds() / 60)
    per_asset = [
        figures.reliability(failures, period_start=observed[key], period_end=until)
        for key, failures in breakdowns.items()
        if observed[key] < until
    ]
    exposure = sum((until - start for start in observed.values() if start < until), timedelta(0))
    downtime = sum((r.downtime for r in per_asset), timedelta(0))
    failures = sum(r.failures for r in per_asset)
    uptime = exposure - downtime
    alerts = _alert_count(session, network, since, until, unit_id, asset)
    return FiguresRead(
        scope=scope,
        period_start=since,
        period_end=until,
        failures=failures,
        mttr_minutes=round(sum(repairs) / len(repairs), 2) if repairs else None,
        mtbf_hours=round(uptime.total_seconds() / failures / 3600, 2) if failures else None,
        availability=round(1 - downtime / exposure, 5) if exposure else None,
        alerts_per_week=round(alerts / ((until - since) / WEEK), 2),
        tickets=len(tickets),
        within_service_level=figures.within_service_level(
            (t.due_at, t.resolved_at) for t in tickets if t.resolved_at or t.due_at <= until
        ),
    )


def _tickets(
    session: Session,
    network: str,
    since: datetime,
    until: datetime,
    unit_id: str | None,
    asset: str | None,
) -> list[MaintenanceTicket]:
    query = select(MaintenanceTicket).where(
        MaintenanceTicket.network_id == network,
        MaintenanceTicket.failed_at < until,
        (MaintenanceTicket.resolved_at.is_(None)) | (MaintenanceTicket.resolved_at >= since),
    )
    query = _in_scope(query, (MaintenanceTicket.unit_id, unit_id), (MaintenanceTicket.asset, asset))
    return list(session.scalars(query))


def _in_scope(query: _Query, *filters: tuple[InstrumentedAttribute[Any], str | None]) -> _Query:
    """The query confined to each (column, value) whose value is given: a unit, an asset."""
    for column, value in filters:
        if value is not None:
            query = query.where(column == value)
    return query


def _observed_since(
    session: Session,
    network: str,
    since: datetime,
    unit_id: str | None,
    asset: str | None,
) -> dict[tuple[str, str], datetime]:
    """When each machine in scope is observed from: the later of its unit's joining the network
    and ``since``."""
    query = (
        select(Machine.unit_id, Machine.machine, Unit.created_at)
        .join(Unit, Machine.unit_id == Unit.id)
        .where(Unit.network_id == network)
    )
    query = _in_scope(query, (Machine.unit_id, unit_id), (Machine.machine, asset))
    return {(u, m): max(since, joined) for u, m, joined in session.execute(query)}


def _alert_count(
    session: Session,
    network: str,
    since: datetime,
    until: datetime,
    unit_id: str | None,
    asset: str | None,
) -> int:
    query = select(func.count()).where(
        MaintenanceAlert.network_id == network,
        MaintenanceAlert.starts_at >= since,
        MaintenanceAlert.starts_at < until,
        MaintenanceAlert.code != "unit_offline",
    )
    query = _in_scope(query, (MaintenanceAlert.unit_id, unit_id), (MaintenanceAlert.asset, asset))
    return int(session.scalar(query) or 0)


def comparison(
    *, session: Session, actor: Actor, network: str, since: datetime, until: datetime
) -> list[ComparisonRow]:
    """Every member unit's figures, anonymised; the caller's own unit is marked."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    if until <= since:
        raise InvalidInput("the period must end after it starts")
    units = session.scalars(select(Unit.id).where(Unit.network_id == network).order_by(Unit.id))
    rows = [
        (
            unit,
            compute(session, network, since, until, unit_id=unit, asset=None, scope="member"),
        )
        for unit in units
    ]
    rows.sort(key=lambda row: (-(row[1].availability or 0), row[1].mttr_minutes or 0, row[0]))
    return [
        ComparisonRow(
            member=f"member {index}",
            is_you=unit == actor.unit_id,
            figures=result.model_copy(update={"scope": f"member {index}"}),
        )
        for index, (unit, result) in enumerate(rows, start=1)
    ]


def per_asset(
    *, session: Session, actor: Actor, network: str, since: datetime, until: datetime
) -> list[FiguresRead]:
    """Figures of every asset the caller may see (a plant: its own)."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    query = (
        select(Machine.unit_id, Machine.machine)
        .join(Unit, Machine.unit_id == Unit.id)
        .where(Unit.network_id == network)
        .order_by(Machine.unit_id, Machine.machine)
    )
    query = own_unit_only(query, Machine.unit_id, actor)
    return [
        compute(session, network, since, until, unit_id=u, asset=m, scope=f"{u}/{m}")
        for u, m in session.execute(query)
    ]
