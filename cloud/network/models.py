"""Live network state written by the ingest: unit availability, machine capacity, job progress.

Every row carries the ``seq`` of the message that wrote it; writes are conditional upserts
(``... ON CONFLICT DO UPDATE ... WHERE stored.seq < new.seq``), so they are idempotent and safe
when several ingest workers apply messages concurrently or out of order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, BigInteger, Boolean, Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, StoredEnum, UtcDateTime
from protocols.enums import (
    JobEventKind,
    JobOrderState,
    MachineryItemState,
    MachineryOperationMode,
)
from protocols.enums import UnitStatus as Availability


class UnitPresence(Base):
    """Whether a unit's gateway is there (online, offline, and why), as its state messages and
    its broker's last will say: the row of a unit's protocol ``UnitStatus``."""

    __tablename__ = "unit_status"

    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[Availability] = mapped_column(StoredEnum(Availability, 16))
    reason: Mapped[str | None] = mapped_column(String(200), default=None)
    seq: Mapped[int] = mapped_column(BigInteger)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    outbox_depth: Mapped[int | None] = mapped_column(Integer, default=None)
    """Messages waiting in the gateway's outbox, as its newest capacity report (at
    ``outbox_reported_at``) said; None until a gateway of protocol 1.3 or later reports."""
    outbox_reported_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class UnitBirthMark(Base):
    """The newest birth applied per unit (its seq and gateway version)."""

    __tablename__ = "unit_birth_marks"

    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    gateway_version: Mapped[str] = mapped_column(String(200))
    seq: Mapped[int] = mapped_column(BigInteger)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class UnitClockSkew(Base):
    """A unit whose clock was found ahead of the coordinator's by more than the allowed skew:
    how far ahead at its latest message so found, and how many of its alarms, job events and
    capacity reports were kept with their times moved back (see :func:`cloud.ingest.service.
    within_skew`)."""

    __tablename__ = "unit_clock_skew"

    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ahead_s: Mapped[float] = mapped_column(Float)
    messages: Mapped[int] = mapped_column(BigInteger)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)


class MachineState(Base):
    __tablename__ = "machine_state"

    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    machine: Mapped[str] = mapped_column(String(64), primary_key=True)
    available: Mapped[bool] = mapped_column(Boolean)
    state: Mapped[MachineryItemState] = mapped_column(StoredEnum(MachineryItemState, 32))
    mode: Mapped[MachineryOperationMode] = mapped_column(StoredEnum(MachineryOperationMode, 32))
    running_job_order: Mapped[str | None] = mapped_column(String(64), default=None)
    stored_job_orders: Mapped[list[str]] = mapped_column(JSON, default=list)
    free_slots: Mapped[int] = mapped_column(Integer)
    queue_free_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime)
    seq: Mapped[int] = mapped_column(BigInteger)


class JobProgress(Base):
    __tablename__ = "job_progress"

    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    job_order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    machine: Mapped[str] = mapped_column(String(64))
    event: Mapped[JobEventKind] = mapped_column(StoredEnum(JobEventKind, 16))
    state: Mapped[JobOrderState | None] = mapped_column(StoredEnum(JobOrderState, 32), default=None)
    progress: Mapped[float | None] = mapped_column(Float, default=None)
    produced_quantity: Mapped[int | None] = mapped_column(Integer, default=None)
    reason: Mapped[str | None] = mapped_column(String(2000), default=None)
    actual_start: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    actual_end: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)
    seq: Mapped[int] = mapped_column(BigInteger)


class ActiveAlarm(Base):
    """Alarms currently raised per asset (cleared ones are removed); tickets come later."""

    __tablename__ = "active_alarms"

    unit_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    alarm_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    asset: Mapped[str] = mapped_column(String(64))
    code: Mapped[str] = mapped_column(String(64))
    severity: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(2000))
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime)


# Schemas ------------------------------------------------------------------------------------


class MachineLive(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    unit_id: str
    machine: str
    name: str
    online: bool
    available: bool | None = None
    state: str | None = None
    mode: str | None = None
    running_job_order: str | None = None
    stored_job_orders: list[str] = []
    free_slots: int | None = None
    queue_free_at: datetime | None = None
    reported_at: datetime | None = None
    latest_metrics: dict[str, Any] = {}
    telemetry_hidden: bool = Field(
        default=False,
        description="the unit does not share its telemetry: latest_metrics stays empty for"
        " anyone but its own plant",
    )
    active_alarms: int = 0


class ClockSkewRead(BaseModel):
    """The unit's clock ran ahead of the coordinator's: how far at ``last_seen_at``, and how many
    of its alarms, job events and capacity reports were kept with their times moved back."""

    model_config = ConfigDict(from_attributes=True)

    ahead_s: float
    messages: int
    last_seen_at: datetime


class UnitLive(BaseModel):
    unit_id: str
    company: str
    site: str
    country: str | None = None
    status: str
    changed_at: datetime | None
    gateway_version: str | None
    machines: int
    busy_machines: int
    free_slots: int
    clock_skew: ClockSkewRead | None = None
    """Set once the unit's clock was found ahead by more than ``ingest.max_future_skew_s``."""


class NetworkOverview(BaseModel):
    network_id: str
    units_total: int
    units_online: int
    machines_total: int
    machines_executing: int
    free_slots: int
    units: list[UnitLive]


class JobProgressRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    unit_id: str
    job_order_id: str
    machine: str
    event: str
    state: str | None
    progress: float | None
    produced_quantity: int | None
    reason: str | None
    actual_start: datetime | None
    actual_end: datetime | None
    occurred_at: datetime


MAX_MISSING_NODES = 200
"""The most missing nodes one health read lists (``missing_total`` counts them all)."""


class MissingNode(BaseModel):
    """A configured node the gateway could not find or monitor, as its latest birth said."""

    machine: str
    metric: str
    reason: str


class GatewayHealth(BaseModel):
    """What the coordinator knows of a unit's gateway: whether it is online, what it runs, its
    clock, and the nodes of its mapping it could not find (from its latest birth)."""

    unit_id: str
    status: str
    reason: str | None
    changed_at: datetime | None
    gateway_version: str | None
    birth_received_at: datetime | None
    clock_skew: ClockSkewRead | None = None
    outbox_depth: int | None = None
    """Messages waiting in the gateway's disk outbox at ``outbox_reported_at`` (its newest
    capacity report); None while the gateway has not said (before protocol 1.3)."""
    outbox_reported_at: datetime | None = None
    missing_nodes: list[MissingNode]
    missing_total: int
