"""Technicians' planned routes: the stops table and the technician's day."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field
from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, UtcDateTime
from cloud.maintenance.tickets.models import Priority


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
