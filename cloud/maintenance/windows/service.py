"""Maintenance windows: each one silences its asset and makes it unavailable to the scheduler
and the dispatcher (:func:`maintenance_windows`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.exceptions import NotFound
from cloud.maintenance.alerts.models import SilenceRow
from cloud.maintenance.assets import asset_info
from cloud.maintenance.tickets.service import actor_label
from cloud.maintenance.windows.models import MaintenanceWindow, WindowCreate


def add_window(
    *,
    session: Session,
    unit_id: str,
    asset: str,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    created_by: str,
    ticket_id: int | None = None,
    plan_id: int | None = None,
) -> MaintenanceWindow:
    """A maintenance window and the silence it creates for its asset."""
    window = MaintenanceWindow(
        unit_id=unit_id,
        asset=asset,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason,
        ticket_id=ticket_id,
        plan_id=plan_id,
    )
    session.add(window)
    session.flush()
    session.add(
        SilenceRow(
            matchers=[f'unit="{unit_id}"', f'asset="{asset}"'],
            starts_at=starts_at,
            ends_at=ends_at,
            comment=f"maintenance window: {reason}",
            created_by=created_by,
            unit_id=unit_id,
            window_id=window.id,
        )
    )
    return window


def create_window(*, session: Session, actor: Actor, spec: WindowCreate) -> MaintenanceWindow:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    if actor.role is Role.PLANT and spec.unit_id != actor.unit_id:
        raise NotFound(f"unit {spec.unit_id!r} does not exist")
    asset_info(session=session, unit_id=spec.unit_id, asset=spec.asset)
    return add_window(
        session=session,
        unit_id=spec.unit_id,
        asset=spec.asset,
        starts_at=spec.starts_at,
        ends_at=spec.ends_at,
        reason=spec.reason,
        created_by=actor_label(actor),
    )


def end_windows_of_ticket(*, session: Session, ticket_id: int, at: datetime) -> None:
    """The work is done: the asset is available again and its alerts are no longer silenced."""
    windows = session.scalars(
        select(MaintenanceWindow).where(
            MaintenanceWindow.ticket_id == ticket_id, MaintenanceWindow.ends_at > at
        )
    )
    for window in windows:
        window.ends_at = max(at, window.starts_at + timedelta(microseconds=1))
        silences = session.scalars(select(SilenceRow).where(SilenceRow.window_id == window.id))
        for silence in silences:
            silence.ends_at = window.ends_at


def maintenance_windows(
    *,
    session: Session,
    since: datetime,
    until: datetime,
    unit_id: str | None = None,
    asset: str | None = None,
) -> list[MaintenanceWindow]:
    """Windows overlapping ``[since, until)``: what the scheduler and the dispatcher treat as
    machine unavailability (call this; no actor, it is for the coordinator's own planning)."""
    query = select(MaintenanceWindow).where(
        MaintenanceWindow.ends_at > since, MaintenanceWindow.starts_at < until
    )
    if unit_id is not None:
        query = query.where(MaintenanceWindow.unit_id == unit_id)
    if asset is not None:
        query = query.where(MaintenanceWindow.asset == asset)
    return list(session.scalars(query.order_by(MaintenanceWindow.starts_at)))


def list_windows(
    *, session: Session, actor: Actor, since: datetime, until: datetime
) -> list[MaintenanceWindow]:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    unit_id = actor.unit_id if actor.role is Role.PLANT else None
    return maintenance_windows(session=session, since=since, until=until, unit_id=unit_id)
