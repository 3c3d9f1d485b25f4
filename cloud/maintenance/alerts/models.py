"""Alerts (one firing episode of an alarm) and the silences that suppress them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field
from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, StoredEnum, UtcDateTime
from cloud.maintenance.models import ReadSchema, Schema, Text

MatcherText = Annotated[str, Field(min_length=3, max_length=300)]


class AlertState(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


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
    state: Mapped[AlertState] = mapped_column(StoredEnum(AlertState, 16))
    suppressed_by: Mapped[str | None] = mapped_column(String(200), default=None)
    repeats: Mapped[int] = mapped_column(Integer, default=0)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    ticket_id: Mapped[int | None] = mapped_column(
        ForeignKey("maintenance_tickets.id", ondelete="SET NULL"), default=None, index=True
    )


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
