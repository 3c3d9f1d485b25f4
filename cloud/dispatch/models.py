"""The scheduler's own state (re-plan requests, last plan) and machine unavailability windows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import JSON, Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, UtcDateTime, utcnow
from protocols.topics import IDENTIFIER_PATTERN

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN.pattern)]


class SchedulerState(Base):
    """One row per network: whether a re-plan is due, and what the last plan saw."""

    __tablename__ = "scheduler_state"

    network_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    replan_requested: Mapped[bool] = mapped_column(Boolean, default=True)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    planned_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    plans: Mapped[int] = mapped_column(Integer, default=0)
    down_machines: Mapped[list[str]] = mapped_column(JSON, default=list)
    makespan_s: Mapped[float | None] = mapped_column(Float, default=None)


class MachineWindow(Base):
    """A time a machine is not available to the plan (maintenance, holidays…)."""

    __tablename__ = "machine_windows"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(String(64), index=True)
    machine: Mapped[str] = mapped_column(String(64))
    start: Mapped[datetime] = mapped_column(UtcDateTime)
    end: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WindowCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: Identifier
    machine: Identifier
    start: datetime
    end: datetime
    reason: Annotated[str, Field(max_length=200)] = ""

    @model_validator(mode="after")
    def _ordered(self) -> WindowCreate:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a time zone")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class WindowRead(WindowCreate):
    model_config = ConfigDict(from_attributes=True)

    id: int


class PlanStatus(BaseModel):
    planned_at: datetime | None
    plans: int
    replan_requested: bool
    reasons: list[str]
    down_machines: list[str]
    makespan_s: float | None
    leader: bool


class GanttBar(BaseModel):
    order_id: str
    step: str
    name: str
    status: str
    start: datetime
    end: datetime
    progress: float


class GanttRow(BaseModel):
    unit_id: str
    machine: str
    down: bool
    bars: list[GanttBar]


class Gantt(BaseModel):
    start: datetime
    end: datetime
    now: datetime
    rows: list[GanttRow]
    extra: dict[str, Any] = Field(default_factory=dict)
