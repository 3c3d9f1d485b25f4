"""Webhooks, and how maintenance's notifications (the coordinator's outbox rows of origin
"maintenance") are read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, AliasChoices, Field, HttpUrl, UrlConstraints
from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, UtcDateTime, utcnow
from cloud.maintenance.models import ReadSchema, Schema
from cloud.messaging.models import Channel, DeliveryStatus


class Webhook(Base):
    __tablename__ = "maintenance_webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


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
