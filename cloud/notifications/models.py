"""Per-person notification preferences, and the events a person may be emailed about."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.auth.models import Email, Role
from cloud.database import Base, UtcDateTime
from cloud.messaging.models import DeliveryStatus


class NotificationEvent(StrEnum):
    TICKET_ASSIGNED = "ticket_assigned"
    TICKET_REMINDER = "ticket_reminder"
    TICKET_ESCALATED = "ticket_escalated"
    ORDER_CONFIRMED = "order_confirmed"
    ORDER_PLANNED = "order_planned"
    ORDER_COMPLETED = "order_completed"
    ORDER_DELIVERED = "order_delivered"
    SERVICE_REQUEST_UPDATED = "service_request_updated"


ROLE_EVENTS: dict[Role, tuple[NotificationEvent, ...]] = {
    Role.TECHNICIAN: (
        NotificationEvent.TICKET_ASSIGNED,
        NotificationEvent.TICKET_REMINDER,
        NotificationEvent.TICKET_ESCALATED,
    ),
    Role.CUSTOMER: (
        NotificationEvent.ORDER_CONFIRMED,
        NotificationEvent.ORDER_PLANNED,
        NotificationEvent.ORDER_COMPLETED,
        NotificationEvent.ORDER_DELIVERED,
        NotificationEvent.SERVICE_REQUEST_UPDATED,
    ),
}
"""What each role may be emailed about (a role not listed: nothing yet)."""


class NotificationPreference(Base):
    """A person's choices; without a row, every event of their role goes to their email."""

    __tablename__ = "notification_preferences"

    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    address: Mapped[str | None] = mapped_column(String(254), default=None)
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PreferencesSet(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    address: Email | None = Field(
        default=None, description="where the emails go; none: the address of the person's account"
    )
    events: list[NotificationEvent] = Field(default_factory=list, max_length=len(NotificationEvent))


class PreferencesRead(BaseModel):
    enabled: bool
    address: str | None = Field(description="where the emails go now (none: nowhere)")
    events: list[NotificationEvent]
    available_events: list[NotificationEvent] = Field(description="what the role may choose")


class EmailRead(BaseModel):
    """An email in the outbox, as the coordinator follows them."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    origin: str
    subject: str | None = Field(description="what it is about in its domain (order, ticket)")
    target: str = Field(description="the recipient's address")
    action: str = Field(description="the event")
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
