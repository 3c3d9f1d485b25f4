"""Preventive maintenance plans."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, model_validator
from sqlalchemy import JSON, Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, UtcDateTime, utcnow
from cloud.maintenance.models import Identifier, ReadSchema, Schema, ShortText


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
