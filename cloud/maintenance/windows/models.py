"""Maintenance windows: when an asset is being maintained (silenced, and unavailable to the
scheduler)."""

from __future__ import annotations

from datetime import datetime

from pydantic import model_validator
from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, UtcDateTime
from cloud.maintenance.models import Identifier, ReadSchema, Schema, ShortText


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
