"""Maintenance tables (alerts, tickets and their timeline, silences, plans, maintenance windows,
webhooks, service areas) and the API schemas. Its notifications are the coordinator's outbox
rows of origin "maintenance" (:class:`~cloud.messaging.models.OutboxMessage`)."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    UrlConstraints,
    model_validator,
)
from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, UtcDateTime, utcnow
from cloud.messaging.models import Channel, DeliveryStatus
from protocols.topics import IDENTIFIER_PATTERN

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN.pattern)]
Text = Annotated[str, Field(max_length=2000)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
MatcherText = Annotated[str, Field(min_length=3, max_length=300)]


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class TicketKind(StrEnum):
    CORRECTIVE = "corrective"
    PREVENTIVE = "preventive"


class TicketStatus(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    CLOSED = "closed"


OPEN_STATUSES = (
    TicketStatus.OPEN,
    TicketStatus.ASSIGNED,
    TicketStatus.ACKNOWLEDGED,
    TicketStatus.IN_PROGRESS,
)


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


# Tables -------------------------------------------------------------------------------------


class MaintenanceAlert(Base):
    """One firing episode of an alert; repeats update it. ``active_key`` holds the fingerprint
    while firing and NULL once resolved, so the database keeps one firing alert per fingerprint."""

    __tablename__ = "maintenance_alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(16), index=True)
    active_key: Mapped[str | None] = mapped_column(String(16), unique=True, default=None)
    network_id: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    asset: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    severity: Mapped[int] = mapped_column(Integer)
    labels: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    text: Mapped[str] = mapped_column(String(2000), default="")
    source: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))
    suppressed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("maintenance_tickets.id", ondelete="SET NULL"), default=None, index=True
    )


class MaintenanceTicket(Base):
    __tablename__ = "maintenance_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), index=True)
    priority: Mapped[str] = mapped_column(String(4))
    severity: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(2000), default="")
    network_id: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    asset: Mapped[str] = mapped_column(String(64), index=True)
    asset_kind: Mapped[str] = mapped_column(String(16), default="machine")
    customer_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    service_level: Mapped[str] = mapped_column(String(32))
    skill: Mapped[str] = mapped_column(String(200))
    assignee_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    previous_assignees: Mapped[list[str]] = mapped_column(JSON, default=list)
    plan_id: Mapped[int | None] = mapped_column(Integer, default=None)
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime)
    failed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_alert_at: Mapped[datetime] = mapped_column(UtcDateTime)
    incidents: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    escalation_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    escalated_to_next: Mapped[bool] = mapped_column(Boolean, default=False)
    escalated_to_coordinator: Mapped[bool] = mapped_column(Boolean, default=False)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    parts_used: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class TicketEvent(Base):
    """The ticket's timeline: every change, with who and when."""

    __tablename__ = "maintenance_ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("maintenance_tickets.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(2000), default="")


class RouteStop(Base):
    """One visit of a technician's planned route; the whole plan is rewritten at every re-plan.
    The visit a technician is on now is a stop too (``in_progress``), until it is resolved; an
    assigned ticket the planner could not place has a row with the reason (``unplanned``)."""

    __tablename__ = "maintenance_route_stops"

    ticket_id: Mapped[int] = mapped_column(
        ForeignKey("maintenance_tickets.id", ondelete="CASCADE"), primary_key=True
    )
    technician_id: Mapped[str] = mapped_column(String(64), index=True)
    sequence: Mapped[int] = mapped_column(Integer)
    site: Mapped[str] = mapped_column(String(200))
    came_from: Mapped[str] = mapped_column(String(200))
    arrive_at: Mapped[datetime] = mapped_column(UtcDateTime)
    start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    travel_minutes: Mapped[int] = mapped_column(Integer)
    distance_km: Mapped[float] = mapped_column(Float)
    late_minutes: Mapped[int] = mapped_column(Integer)
    in_progress: Mapped[bool] = mapped_column(Boolean, default=False)
    planned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    unplanned: Mapped[str | None] = mapped_column(String(500), default=None)
    """Why the ticket, assigned to this technician, has no place in their route (its times
    are then the re-plan's); the row tells the worker the ticket was considered."""


class SilenceRow(Base):
    __tablename__ = "maintenance_silences"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    matchers: Mapped[list[str]] = mapped_column(JSON)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    comment: Mapped[str] = mapped_column(String(2000), default="")
    created_by: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[str | None] = mapped_column(String(64), default=None)
    window_id: Mapped[int | None] = mapped_column(Integer, default=None)


class MaintenancePlan(Base):
    """Preventive maintenance of one asset, or of every asset of a model, by calendar interval
    and/or operating hours."""

    __tablename__ = "maintenance_plans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[str | None] = mapped_column(String(64), default=None)
    asset: Mapped[str | None] = mapped_column(String(64), default=None)
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    skill: Mapped[str] = mapped_column(String(200))
    interval_days: Mapped[float | None] = mapped_column(Float, default=None)
    interval_hours: Mapped[float | None] = mapped_column(Float, default=None)
    hours_metric: Mapped[str] = mapped_column(String(64))
    window_minutes: Mapped[int] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    progress: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MaintenanceWindow(Base):
    """A time when an asset is being maintained: silenced, and unavailable to the scheduler."""

    __tablename__ = "maintenance_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    asset: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    reason: Mapped[str] = mapped_column(String(200))
    ticket_id: Mapped[int | None] = mapped_column(Integer, default=None)
    plan_id: Mapped[int | None] = mapped_column(Integer, default=None)


class Webhook(Base):
    __tablename__ = "maintenance_webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ServiceArea(Base):
    """The units whose assets the technicians employed by ``unit_id`` service (none: all)."""

    __tablename__ = "maintenance_service_areas"

    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    served_units: Mapped[list[str]] = mapped_column(JSON, default=list)


# Schemas ------------------------------------------------------------------------------------


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class AlertRead(ReadSchema):
    id: int
    fingerprint: str
    unit_id: str
    asset: str
    code: str
    severity: int
    labels: dict[str, str]
    text: str
    source: str
    state: AlertState
    suppressed_by: str | None
    repeats: int
    starts_at: datetime
    last_seen_at: datetime
    resolved_at: datetime | None
    ticket_id: int | None


class TicketEventRead(ReadSchema):
    at: datetime
    actor: str
    kind: str
    detail: str


class Part(Schema):
    part: ShortText
    quantity: Annotated[float, Field(gt=0, le=100_000, allow_inf_nan=False)] = 1


class TicketRead(ReadSchema):
    id: int
    kind: TicketKind
    status: TicketStatus
    priority: Priority
    severity: int
    title: str
    description: str
    unit_id: str
    asset: str
    asset_kind: str
    customer_id: str | None
    service_level: str
    skill: str
    assignee_id: str | None
    opened_at: datetime
    failed_at: datetime
    due_at: datetime
    incidents: int
    acknowledged_at: datetime | None
    started_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    escalated_to_coordinator: bool
    parts_used: list[dict[str, Any]]
    repair_minutes: float | None = None


class TicketDetail(TicketRead):
    timeline: list[TicketEventRead]
    alerts: list[AlertRead]
    notifications: list[NotificationRead]


class NotificationRead(ReadSchema):
    """One of maintenance's outbox messages (its subject is the ticket)."""

    id: int
    ticket_id: int = Field(validation_alias=AliasChoices("ticket_id", "subject"))
    channel: Channel
    target: str
    action: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


class TicketCreate(Schema):
    """A ticket opened by hand (e.g. a customer call) rather than by an alert."""

    unit_id: Identifier
    asset: Identifier
    kind: TicketKind = TicketKind.CORRECTIVE
    title: ShortText
    description: Text = ""
    severity: Annotated[int, Field(ge=1, le=1000)] = 500
    skill: ShortText | None = None


class Assign(Schema):
    technician_id: Identifier


class Note(Schema):
    text: Annotated[str, Field(min_length=1, max_length=2000)]


class Resolve(Schema):
    note: Text = ""
    parts_used: Annotated[list[Part], Field(max_length=100)] = Field(default_factory=list)


class SilenceCreate(Schema):
    matchers: Annotated[list[MatcherText], Field(min_length=1, max_length=20)]
    starts_at: datetime | None = None
    ends_at: datetime
    comment: Text = ""


class SilenceRead(ReadSchema):
    id: int
    matchers: list[str]
    starts_at: datetime
    ends_at: datetime
    comment: str
    created_by: str
    window_id: int | None
    active: bool = False


class PlanCreate(Schema):
    title: ShortText
    unit_id: Identifier | None = None
    asset: Identifier | None = None
    model: ShortText | None = None
    skill: ShortText = "mechanical"
    interval_days: Annotated[float, Field(gt=0, le=3660, allow_inf_nan=False)] | None = None
    interval_hours: Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)] | None = None
    hours_metric: Identifier = "OperatingHours"
    window_minutes: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = 120

    @model_validator(mode="after")
    def _target_and_interval(self) -> PlanCreate:
        if (self.asset is None) == (self.model is None):
            raise ValueError("give either an asset (with its unit_id) or a model")
        if self.asset is not None and self.unit_id is None:
            raise ValueError("an asset plan needs the asset's unit_id")
        if self.interval_days is None and self.interval_hours is None:
            raise ValueError("give interval_days, interval_hours or both")
        return self


class PlanRead(ReadSchema):
    id: int
    title: str
    unit_id: str | None
    asset: str | None
    model: str | None
    skill: str
    interval_days: float | None
    interval_hours: float | None
    hours_metric: str
    window_minutes: int
    active: bool
    created_at: datetime
    progress: dict[str, Any]


class WindowCreate(Schema):
    unit_id: Identifier
    asset: Identifier
    starts_at: datetime
    ends_at: datetime
    reason: ShortText

    @model_validator(mode="after")
    def _ordered(self) -> WindowCreate:
        if self.ends_at <= self.starts_at:
            raise ValueError("a maintenance window must end after it starts")
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("times need a time zone")
        return self


class WindowRead(ReadSchema):
    id: int
    unit_id: str
    asset: str
    starts_at: datetime
    ends_at: datetime
    reason: str
    ticket_id: int | None
    plan_id: int | None


WEBHOOK_URL_LENGTH = 500  # the column's


def _fits_the_column(url: HttpUrl) -> HttpUrl:
    # Normalising can lengthen a URL (a trailing slash, percent-encoding, punycode).
    if len(str(url)) > WEBHOOK_URL_LENGTH:
        raise ValueError(f"must be at most {WEBHOOK_URL_LENGTH} characters once normalised")
    return url


class WebhookCreate(Schema):
    url: Annotated[
        HttpUrl, UrlConstraints(max_length=WEBHOOK_URL_LENGTH), AfterValidator(_fits_the_column)
    ]
    description: Annotated[str, Field(max_length=200)] = ""


class WebhookRead(ReadSchema):
    id: int
    url: str
    description: str
    active: bool
    created_at: datetime


class ServiceAreaSet(Schema):
    served_units: Annotated[list[Identifier], Field(max_length=500)]


class RouteStopRead(BaseModel):
    ticket_id: int
    title: str
    unit_id: str
    asset: str
    priority: Priority
    due_at: datetime
    site: str
    came_from: str
    arrive_at: datetime
    start_at: datetime
    end_at: datetime
    travel_minutes: int
    distance_km: float
    late_minutes: int
    in_progress: bool


class UnplannedRead(BaseModel):
    ticket_id: int
    title: str
    reason: str


class TechnicianDay(BaseModel):
    """A technician's next working day of visits, in route order."""

    technician_id: str
    day: date | None
    next: str | None = Field(description='e.g. "next: imola-welding at 10:40, 35 min drive"')
    stops: list[RouteStopRead]
    later: int = Field(description="visits planned on later days")
    unplanned: list[UnplannedRead] = Field(
        description="their tickets that fit in no route within the horizon, with the reason"
    )
    planned_at: datetime | None


class FiguresRead(BaseModel):
    scope: str
    period_start: datetime
    period_end: datetime
    failures: int
    mttr_minutes: float | None
    mtbf_hours: float | None
    availability: float | None
    alerts_per_week: float
    tickets: int
    within_service_level: float | None


class ComparisonRow(BaseModel):
    member: str
    is_you: bool
    figures: FiguresRead


TicketDetail.model_rebuild()
