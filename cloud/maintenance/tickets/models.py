"""Tickets: the table, its timeline, the technicians' service areas, and their API schemas."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, StoredEnum, UtcDateTime
from cloud.maintenance.alerts.models import AlertRead
from cloud.maintenance.models import Identifier, ReadSchema, Schema, ShortText, Text
from cloud.maintenance.webhooks.models import NotificationRead


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


class Audience(StrEnum):
    """Who may read a line of a ticket's timeline: the network's people (its coordinator, the
    plant, technicians), or also the customer whose product it is."""

    INTERNAL = "internal"
    CUSTOMER = "customer"


class Priority(StrEnum):
    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"


class MaintenanceTicket(Base):
    __tablename__ = "maintenance_tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[TicketKind] = mapped_column(StoredEnum(TicketKind, 16))
    status: Mapped[TicketStatus] = mapped_column(StoredEnum(TicketStatus, 16), index=True)
    priority: Mapped[Priority] = mapped_column(StoredEnum(Priority, 4))
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
    # When the asset stopped (an alarm at the policy's breakdown severity); None: it never did.
    broke_down_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
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
    audience: Mapped[Audience] = mapped_column(StoredEnum(Audience, 16), default=Audience.INTERNAL)


class ServiceArea(Base):
    """The units whose assets the technicians employed by ``unit_id`` service (none: all)."""

    __tablename__ = "maintenance_service_areas"

    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    served_units: Mapped[list[str]] = mapped_column(JSON, default=list)


class TicketEventRead(ReadSchema):
    at: datetime
    actor: str
    kind: str
    detail: str
    audience: Audience = Audience.INTERNAL


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
    broke_down_at: datetime | None
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
    audience: Audience = Field(
        default=Audience.INTERNAL,
        description="internal: the network's people only; customer: also the product's"
        " customer (a customer's own notes are always for the customer)",
    )


class Resolve(Schema):
    note: Text = ""
    parts_used: Annotated[list[Part], Field(max_length=100)] = Field(default_factory=list)


class ServiceAreaSet(Schema):
    served_units: Annotated[list[Identifier], Field(max_length=500)]
