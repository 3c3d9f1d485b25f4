"""Alerts and silences: the firing alert of a fingerprint, a unit's firing alerts, the
silences in force, and the API's listing and silencing (scoped like tickets: a plant sees and
silences its own unit only)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import own_unit_only, require_role
from cloud.exceptions import InvalidInput, NotFound
from cloud.maintenance.alerts.models import MaintenanceAlert, SilenceCreate, SilenceRow
from cloud.maintenance.routing import Matcher, RoutingError, Silence
from cloud.maintenance.tickets.service import actor_label
from protocols.enums import AlarmSource

_LOGGER = logging.getLogger(__name__)


def firing_alert(*, session: Session, fingerprint: str) -> MaintenanceAlert | None:
    return session.scalars(
        select(MaintenanceAlert).where(MaintenanceAlert.active_key == fingerprint)
    ).first()


def condition_codes(*, session: Session, ticket_id: int) -> list[str]:
    """The codes of a ticket's alerts that came from OPC UA alarm conditions, oldest first."""
    query = (
        select(MaintenanceAlert.code)
        .where(
            MaintenanceAlert.ticket_id == ticket_id,
            MaintenanceAlert.source == AlarmSource.OPCUA_EVENT.value,
        )
        .group_by(MaintenanceAlert.code)
        .order_by(func.min(MaintenanceAlert.id))
    )
    return list(session.scalars(query))


def firing_alerts_of_unit(*, session: Session, unit_id: str) -> list[MaintenanceAlert]:
    query = select(MaintenanceAlert).where(
        MaintenanceAlert.unit_id == unit_id, MaintenanceAlert.active_key.is_not(None)
    )
    return list(session.scalars(query))


def list_alerts(
    *, session: Session, actor: Actor, firing_only: bool = False, limit: int = 500
) -> list[MaintenanceAlert]:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    query = own_unit_only(select(MaintenanceAlert), MaintenanceAlert.unit_id, actor)
    if firing_only:
        query = query.where(MaintenanceAlert.active_key.is_not(None))
    return list(session.scalars(query.order_by(MaintenanceAlert.id.desc()).limit(limit)))


def ticket_alerts(*, session: Session, ticket_id: int) -> list[MaintenanceAlert]:
    query = select(MaintenanceAlert).where(MaintenanceAlert.ticket_id == ticket_id)
    return list(session.scalars(query.order_by(MaintenanceAlert.id)))


# Silences -------------------------------------------------------------------------------------


def parse_matchers(texts: Sequence[str]) -> tuple[Matcher, ...]:
    try:
        return tuple(Matcher.parse(text) for text in texts)
    except RoutingError as exc:
        raise InvalidInput(str(exc)) from exc


def to_silence(row: SilenceRow) -> Silence:
    return Silence(
        matchers=parse_matchers(row.matchers),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        comment=row.comment,
        created_by=row.created_by,
        unit=row.unit_id,
        silence_id=row.id,
    )


def active_silences(
    *, session: Session, at: datetime, unit_id: str | None = None
) -> Iterator[Silence]:
    """The silences in force at ``at`` (with ``unit_id``: only the network-wide ones and that
    unit's own, chosen by the query before any pattern is compiled or run). A stored silence
    that no longer parses (e.g. a pattern from before matchers ran on RE2) is skipped."""
    query = select(SilenceRow).where(SilenceRow.ends_at > at, SilenceRow.starts_at <= at)
    if unit_id is not None:
        query = query.where(or_(SilenceRow.unit_id.is_(None), SilenceRow.unit_id == unit_id))
    for row in session.scalars(query):
        try:
            silence = to_silence(row)
        except (InvalidInput, RoutingError) as exc:
            _LOGGER.warning("silence %s is skipped: %s", row.id, exc)
            continue
        yield silence


def create_silence(
    *, session: Session, actor: Actor, spec: SilenceCreate, now: datetime
) -> SilenceRow:
    """A silence; a plant's silence is confined to its own unit by an added matcher."""
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    matchers = list(spec.matchers)
    if actor.role is Role.PLANT:
        matchers.insert(0, f'unit="{actor.unit_id}"')
    starts_at = spec.starts_at or now
    for moment in (starts_at, spec.ends_at):
        if moment.tzinfo is None:
            raise InvalidInput("silence times need a time zone")
    try:
        Silence(parse_matchers(matchers), starts_at, spec.ends_at)
    except RoutingError as exc:
        raise InvalidInput(str(exc)) from exc
    row = SilenceRow(
        matchers=matchers,
        starts_at=starts_at,
        ends_at=spec.ends_at,
        comment=spec.comment,
        created_by=actor_label(actor),
        unit_id=actor.unit_id,
    )
    session.add(row)
    session.flush()
    return row


def _silence_query(actor: Actor) -> Select[Any]:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    return own_unit_only(select(SilenceRow), SilenceRow.unit_id, actor)


def list_silences(
    *, session: Session, actor: Actor, now: datetime, include_expired: bool = False
) -> list[SilenceRow]:
    query = _silence_query(actor)
    if not include_expired:
        query = query.where(SilenceRow.ends_at > now)
    return list(session.scalars(query.order_by(SilenceRow.id.desc())))


def expire_silence(*, session: Session, actor: Actor, silence_id: int, now: datetime) -> SilenceRow:
    row = session.scalars(_silence_query(actor).where(SilenceRow.id == silence_id)).first()
    if row is None:
        raise NotFound(f"silence {silence_id} does not exist")
    if row.ends_at > now:
        row.ends_at = max(now, row.starts_at + timedelta(microseconds=1))
    return row
