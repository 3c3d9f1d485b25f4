"""Maintenance records: tickets and their timeline, alerts, silences, windows, plans, webhooks.

Every function takes the session and, where callers differ, the actor; scoping happens here:
the coordinator sees everything, a plant its own unit's tickets, a technician the tickets
assigned to them, a customer the tickets of their own products. Another tenant's ticket answers
404 (its existence is not revealed); an action a role may never take answers 403.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from cloud.auth.models import Actor, Role
from cloud.auth.permissions import require_role
from cloud.exceptions import Conflict, InvalidInput, NotFound, PermissionDenied
from cloud.maintenance.models import (
    OPEN_STATUSES,
    MaintenanceAlert,
    MaintenancePlan,
    MaintenanceTicket,
    MaintenanceWindow,
    PlanCreate,
    Priority,
    ServiceArea,
    SilenceCreate,
    SilenceRow,
    TicketEvent,
    TicketStatus,
    Webhook,
    WebhookCreate,
    WindowCreate,
)
from cloud.maintenance.routing import Matcher, RoutingError, SeverityLevel, Silence
from cloud.messaging import outbox
from cloud.messaging.models import DeliveryStatus, OutboxMessage
from cloud.messaging.outbox import redacted_url
from cloud.registry.models import Machine, Unit
from protocols.enums import AlarmSource

_LOGGER = logging.getLogger(__name__)

SYSTEM = "system"
ORIGIN = "maintenance"
"""The outbox's name for maintenance's messages; their subject is the ticket's id."""
DEFAULT_SERVICE_LEVEL = "standard"
SERVICE_LEVELS: dict[str, dict[Priority, timedelta]] = {
    "premium": {
        Priority.P1: timedelta(hours=4),
        Priority.P2: timedelta(hours=8),
        Priority.P3: timedelta(hours=24),
        Priority.P4: timedelta(hours=72),
    },
    "standard": {
        Priority.P1: timedelta(hours=8),
        Priority.P2: timedelta(hours=24),
        Priority.P3: timedelta(hours=72),
        Priority.P4: timedelta(days=7),
    },
    "basic": {
        Priority.P1: timedelta(hours=24),
        Priority.P2: timedelta(hours=72),
        Priority.P3: timedelta(days=7),
        Priority.P4: timedelta(days=14),
    },
}
_BASE_PRIORITY = {
    SeverityLevel.CRITICAL: 1,
    SeverityLevel.MAJOR: 2,
    SeverityLevel.MINOR: 3,
    SeverityLevel.WARNING: 4,
    SeverityLevel.INFO: 4,
}
_LEVEL_SHIFT = {"premium": -1, "standard": 0, "basic": 1}
SKILL_BY_CODE = {
    "overheat": "mechanical",
    "high_vibration": "mechanical",
    "tool_wear": "mechanical",
    "breakdown": "mechanical",
    "emergency_stop": "electrical",
}
DEFAULT_SKILL = "mechanical"


def actor_label(actor: Actor) -> str:
    """How the timeline names who did something."""
    if actor.role is Role.TECHNICIAN:
        return f"technician {actor.technician_id}"
    return f"{actor.role.value} {actor.name}"


# Service levels and priorities ----------------------------------------------------------------


def priority_for(level: SeverityLevel, service_level: str) -> Priority:
    """Priority from the alert's severity, raised for premium and lowered for basic customers."""
    rank = _BASE_PRIORITY[level] + _LEVEL_SHIFT.get(service_level, 0)
    return Priority(f"P{min(4, max(1, rank))}")


def due_after(service_level: str, priority: Priority) -> timedelta:
    return SERVICE_LEVELS.get(service_level, SERVICE_LEVELS[DEFAULT_SERVICE_LEVEL])[priority]


@dataclass(frozen=True)
class AssetInfo:
    """What the registry knows about an asset that maintenance needs."""

    network_id: str
    unit_id: str
    asset: str
    asset_kind: str
    model: str
    customer_id: str | None
    service_level: str
    skill_override: str | None
    latitude: float
    longitude: float


def asset_info(*, session: Session, unit_id: str, asset: str) -> AssetInfo:
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id!r} does not exist")
    machine = session.scalars(
        select(Machine).where(Machine.unit_id == unit_id, Machine.machine == asset)
    ).first()
    static: dict[str, Any] = dict(machine.static_data) if machine is not None else {}
    level = str(static.get("service_level", DEFAULT_SERVICE_LEVEL))
    return AssetInfo(
        network_id=unit.network_id,
        unit_id=unit_id,
        asset=asset,
        asset_kind=_asset_kind(machine, unit_id, asset),
        model=machine.model if machine is not None else "",
        customer_id=str(static["customer"]) if static.get("customer") else None,
        service_level=level if level in SERVICE_LEVELS else DEFAULT_SERVICE_LEVEL,
        skill_override=str(static["maintenance_skill"])
        if static.get("maintenance_skill")
        else None,
        latitude=float(static.get("latitude", unit.latitude)),
        longitude=float(static.get("longitude", unit.longitude)),
    )


def _asset_kind(machine: Machine | None, unit_id: str, asset: str) -> str:
    if machine is not None:
        return machine.asset_kind
    return "unit" if asset == unit_id else "machine"


# Tickets --------------------------------------------------------------------------------------


def _ticket_query(actor: Actor) -> Select[Any]:
    query = select(MaintenanceTicket)
    if actor.role is Role.PLANT:
        query = query.where(MaintenanceTicket.unit_id == actor.unit_id)
    elif actor.role is Role.TECHNICIAN:
        query = query.where(MaintenanceTicket.assignee_id == actor.technician_id)
    elif actor.role is Role.CUSTOMER:
        query = query.where(MaintenanceTicket.customer_id == actor.customer_id)
    return query


def list_tickets(
    *,
    session: Session,
    actor: Actor,
    status: Sequence[TicketStatus] = (),
    unit_id: str | None = None,
    asset: str | None = None,
    kind: str | None = None,
    limit: int = 500,
) -> list[MaintenanceTicket]:
    query = _ticket_query(actor)
    if status:
        query = query.where(MaintenanceTicket.status.in_([s.value for s in status]))
    if unit_id is not None:
        query = query.where(MaintenanceTicket.unit_id == unit_id)
    if asset is not None:
        query = query.where(MaintenanceTicket.asset == asset)
    if kind is not None:
        query = query.where(MaintenanceTicket.kind == kind)
    query = query.order_by(MaintenanceTicket.id.desc()).limit(limit)
    return list(session.scalars(query))


def get_ticket(*, session: Session, actor: Actor, ticket_id: int) -> MaintenanceTicket:
    ticket = session.scalars(_ticket_query(actor).where(MaintenanceTicket.id == ticket_id)).first()
    if ticket is None:
        raise NotFound(f"ticket {ticket_id} does not exist")
    return ticket


def open_ticket_for(
    *, session: Session, unit_id: str, asset: str, plan_id: int | None = None
) -> MaintenanceTicket | None:
    """The asset's open corrective ticket (or the plan's open preventive one)."""
    query = select(MaintenanceTicket).where(
        MaintenanceTicket.unit_id == unit_id,
        MaintenanceTicket.asset == asset,
        MaintenanceTicket.status.in_([s.value for s in OPEN_STATUSES]),
    )
    if plan_id is None:
        query = query.where(MaintenanceTicket.plan_id.is_(None))
    else:
        query = query.where(MaintenanceTicket.plan_id == plan_id)
    return session.scalars(query.order_by(MaintenanceTicket.id)).first()


def record(
    session: Session,
    ticket: MaintenanceTicket,
    at: datetime,
    actor: str,
    kind: str,
    detail: str = "",
) -> None:
    """Add a line to the ticket's timeline."""
    session.add(
        TicketEvent(ticket_id=ticket.id, at=at, actor=actor, kind=kind, detail=detail[:2000])
    )


def timeline(*, session: Session, ticket_id: int) -> list[TicketEvent]:
    query = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)
    return list(session.scalars(query.order_by(TicketEvent.at, TicketEvent.id)))


def ticket_alerts(*, session: Session, ticket_id: int) -> list[MaintenanceAlert]:
    query = select(MaintenanceAlert).where(MaintenanceAlert.ticket_id == ticket_id)
    return list(session.scalars(query.order_by(MaintenanceAlert.id)))


def ticket_notifications(*, session: Session, ticket_id: int) -> list[OutboxMessage]:
    """The ticket's messages in the coordinator's outbox, oldest first."""
    return outbox.of_subject(session=session, origin=ORIGIN, subject=str(ticket_id))


def repair_minutes(ticket: MaintenanceTicket) -> float | None:
    if ticket.resolved_at is None:
        return None
    return round((ticket.resolved_at - ticket.failed_at).total_seconds() / 60, 2)


def require_assignee_or_coordinator(actor: Actor, ticket: MaintenanceTicket) -> None:
    if actor.role is Role.COORDINATOR:
        return
    if actor.role is Role.TECHNICIAN and ticket.assignee_id == actor.technician_id:
        return
    raise PermissionDenied("only the assigned technician or the coordinator may do this")


def move(
    session: Session,
    ticket: MaintenanceTicket,
    status: TicketStatus,
    *,
    allowed_from: Sequence[TicketStatus],
    at: datetime,
    actor: str,
    detail: str = "",
) -> bool:
    """Change the status (recorded on the timeline); False when already there (idempotent)."""
    if ticket.status == status.value:
        return False
    if ticket.status not in {s.value for s in allowed_from}:
        raise Conflict(f"ticket {ticket.id} is {ticket.status}; cannot become {status.value}")
    ticket.status = status.value
    record(session, ticket, at, actor, status.value, detail)
    return True


def add_note(*, session: Session, actor: Actor, ticket_id: int, text: str, at: datetime) -> None:
    ticket = get_ticket(session=session, actor=actor, ticket_id=ticket_id)
    record(session, ticket, at, actor_label(actor), "note", text)


def add_parts(
    *,
    session: Session,
    ticket: MaintenanceTicket,
    parts: Sequence[dict[str, Any]],
    actor: str,
    at: datetime,
) -> None:
    if not parts:
        return
    ticket.parts_used = [*ticket.parts_used, *parts]
    listed = ", ".join(f"{p['quantity']:g} x {p['part']}" for p in parts)
    record(session, ticket, at, actor, "parts", listed)


def open_load(*, session: Session) -> dict[str, int]:
    """Open tickets per technician."""
    query = (
        select(MaintenanceTicket.assignee_id, func.count())
        .where(
            MaintenanceTicket.assignee_id.is_not(None),
            MaintenanceTicket.status.in_([s.value for s in OPEN_STATUSES]),
        )
        .group_by(MaintenanceTicket.assignee_id)
    )
    return {str(tech): int(count) for tech, count in session.execute(query)}


def current_jobs(*, session: Session) -> dict[str, tuple[str, str]]:
    """Technician → (unit, asset) of the ticket they are working on now."""
    query = select(MaintenanceTicket).where(
        MaintenanceTicket.status == TicketStatus.IN_PROGRESS.value,
        MaintenanceTicket.assignee_id.is_not(None),
    )
    return {str(t.assignee_id): (t.unit_id, t.asset) for t in session.scalars(query)}


def service_areas(*, session: Session) -> dict[str, frozenset[str]]:
    return {
        row.unit_id: frozenset(row.served_units) for row in session.scalars(select(ServiceArea))
    }


def set_service_area(
    *, session: Session, actor: Actor, unit_id: str, served_units: Sequence[str]
) -> ServiceArea:
    require_role(actor, Role.COORDINATOR)
    for served in (unit_id, *served_units):
        if session.get(Unit, served) is None:
            raise InvalidInput(f"unit {served!r} does not exist")
    row = session.merge(ServiceArea(unit_id=unit_id, served_units=sorted(set(served_units))))
    session.flush()
    return row


# Alerts ---------------------------------------------------------------------------------------


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
    query = select(MaintenanceAlert)
    if actor.role is Role.PLANT:
        query = query.where(MaintenanceAlert.unit_id == actor.unit_id)
    if firing_only:
        query = query.where(MaintenanceAlert.active_key.is_not(None))
    return list(session.scalars(query.order_by(MaintenanceAlert.id.desc()).limit(limit)))


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
    query = select(SilenceRow)
    if actor.role is Role.PLANT:
        query = query.where(SilenceRow.unit_id == actor.unit_id)
    return query


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


# Maintenance windows ----------------------------------------------------------------------------


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


# Plans ------------------------------------------------------------------------------------------


def create_plan(*, session: Session, actor: Actor, spec: PlanCreate) -> MaintenancePlan:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    if actor.role is Role.PLANT and spec.unit_id != actor.unit_id:
        raise PermissionDenied("a plant plans the maintenance of its own assets only")
    if spec.asset is not None and spec.unit_id is not None:
        asset_info(session=session, unit_id=spec.unit_id, asset=spec.asset)
    plan = MaintenancePlan(**spec.model_dump(), active=True, progress={})
    session.add(plan)
    session.flush()
    return plan


def _plan_query(actor: Actor) -> Select[Any]:
    require_role(actor, Role.COORDINATOR, Role.PLANT)
    query = select(MaintenancePlan)
    if actor.role is Role.PLANT:
        query = query.where(MaintenancePlan.unit_id == actor.unit_id)
    return query


def list_plans(*, session: Session, actor: Actor) -> list[MaintenancePlan]:
    return list(session.scalars(_plan_query(actor).order_by(MaintenancePlan.id)))


def deactivate_plan(*, session: Session, actor: Actor, plan_id: int) -> MaintenancePlan:
    plan = session.scalars(_plan_query(actor).where(MaintenancePlan.id == plan_id)).first()
    if plan is None:
        raise NotFound(f"plan {plan_id} does not exist")
    plan.active = False
    return plan


def active_plans(*, session: Session) -> list[MaintenancePlan]:
    """Active plans, locked for this transaction (PostgreSQL) so two coordinator processes do
    not both open a plan's ticket."""
    query = select(MaintenancePlan).where(MaintenancePlan.active.is_(True))
    return list(session.scalars(query.order_by(MaintenancePlan.id).with_for_update()))


# Webhooks ---------------------------------------------------------------------------------------


def create_webhook(*, session: Session, actor: Actor, spec: WebhookCreate) -> Webhook:
    require_role(actor, Role.COORDINATOR)
    row = Webhook(url=str(spec.url), description=spec.description, active=True)
    session.add(row)
    session.flush()
    return row


def list_webhooks(*, session: Session, actor: Actor) -> list[Webhook]:
    require_role(actor, Role.COORDINATOR)
    return list(session.scalars(select(Webhook).order_by(Webhook.id)))


def remove_webhook(*, session: Session, actor: Actor, webhook_id: int) -> None:
    require_role(actor, Role.COORDINATOR)
    row = session.get(Webhook, webhook_id)
    if row is None:
        raise NotFound(f"webhook {webhook_id} does not exist")
    row.active = False


def active_webhooks(*, session: Session) -> list[Webhook]:
    return list(session.scalars(select(Webhook).where(Webhook.active.is_(True))))


def redactor(*, session: Session, actor: Actor) -> Callable[[str], str]:
    """What ``actor`` may read of a text that can hold a webhook URL (a notification's target or
    error, a timeline entry): everything for the coordinator; for the others every webhook URL
    ever configured is replaced by its :func:`redacted_url`."""
    if actor.role is Role.COORDINATOR:
        return lambda text: text
    urls = sorted(session.scalars(select(Webhook.url)), key=len, reverse=True)

    def redact(text: str) -> str:
        for url in urls:
            text = text.replace(url, redacted_url(url))
        return text

    return redact


def list_notifications(
    *, session: Session, actor: Actor, status: str | None = None, limit: int = 200
) -> list[OutboxMessage]:
    require_role(actor, Role.COORDINATOR)
    state = DeliveryStatus(status) if status is not None else None
    return outbox.latest(session=session, origin=ORIGIN, status=state, limit=limit)
