"""The scheduler's own state (re-plan requests, what the last plan saw) and plan schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field
from sqlalchemy import JSON, Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, UtcDateTime
from protocols.topics import IDENTIFIER_PATTERN

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN.pattern)]


class SchedulerState(Base):
    """One row per network: whether a re-plan is due, and what the last plan saw."""

    __tablename__ = "scheduler_state"

    network_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    replan_requested: Mapped[bool] = mapped_column(Boolean, default=True)
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Re-plans asked for so far: a plan clears the request only if none came while it ran.
    requests: Mapped[int] = mapped_column(Integer, default=0)
    planned_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    plans: Mapped[int] = mapped_column(Integer, default=0)
    down_machines: Mapped[list[str]] = mapped_column(JSON, default=list)
    windows_seen: Mapped[list[str]] = mapped_column(JSON, default=list)
    makespan_s: Mapped[float | None] = mapped_column(Float, default=None)


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
    # The planned change-over before the work (drawn hatched from here to ``start``).
    setup_start: datetime | None = None
    operator: str | None = None  # the plant operator planned to attend it


class GanttSpan(BaseModel):
    """A time a machine cannot work: a maintenance window (with its reason) or closed plant time."""

    start: datetime
    end: datetime
    reason: str = ""


class GanttRow(BaseModel):
    unit_id: str
    machine: str
    down: bool
    bars: list[GanttBar]
    windows: list[GanttSpan] = Field(default_factory=list)
    # The plant calendar's closed time within the chart (none for a lights-out machine).
    closed: list[GanttSpan] = Field(default_factory=list)


class Gantt(BaseModel):
    start: datetime
    end: datetime
    now: datetime
    rows: list[GanttRow]
    extra: dict[str, Any] = Field(default_factory=dict)
