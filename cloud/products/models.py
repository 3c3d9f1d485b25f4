"""Service contracts of delivered products, and the schemas of a product's page and its
service requests."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import Float, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, UtcDateTime, utcnow
from cloud.maintenance.tickets.models import Priority, TicketStatus
from protocols.topics import IDENTIFIER_PATTERN

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN.pattern)]


class ServiceContract(Base):
    """What the network promises a delivered product after the sale: from when to when, at
    which service level (the maintenance policy's, which sets tickets' priorities and due
    times) and how soon a service request is answered."""

    __tablename__ = "service_contracts"

    serial: Mapped[str] = mapped_column(
        ForeignKey("delivered_products.serial", ondelete="CASCADE"), primary_key=True
    )
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    service_level: Mapped[str] = mapped_column(String(32))
    response_hours: Mapped[float] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(200), default="system")


# Schemas ------------------------------------------------------------------------------------


class ContractRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    serial: str
    starts_at: datetime
    ends_at: datetime
    service_level: str
    response_hours: float
    updated_at: datetime
    active: bool = Field(default=False, description="now within its start and end")


class ContractUpdate(BaseModel):
    """The coordinator's change to a contract: any of its terms (left out: unchanged)."""

    model_config = ConfigDict(extra="forbid")

    starts_at: datetime | None = None
    ends_at: datetime | None = None
    service_level: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    response_hours: Annotated[float, Field(gt=0, le=24 * 365, allow_inf_nan=False)] | None = None

    @model_validator(mode="after")
    def _zoned(self) -> ContractUpdate:
        for name in ("starts_at", "ends_at"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"{name} needs a time zone (e.g. 2027-01-01T00:00:00Z)")
        return self


class FieldAssetSet(BaseModel):
    """The asset under which a field gateway reports the product (a registry machine)."""

    model_config = ConfigDict(extra="forbid")

    unit_id: Identifier
    asset: Identifier


class Delivery(BaseModel):
    """The hand-over of a completed order at its customer's site: where the product is
    installed, if a field gateway reports it there (its commissioning)."""

    model_config = ConfigDict(extra="forbid")

    field_asset: FieldAssetSet | None = Field(
        default=None,
        description="the asset the site's field gateway reports the product as (a registry"
        " asset of kind product); left out: none reports it (yet)",
    )


class MetricValue(BaseModel):
    metric: str
    value: float | str | None
    unit: str = ""


class ProductLive(BaseModel):
    """The product's live state as its field gateway reports it; ``reporting`` false (and the
    rest empty) when no field gateway reports it."""

    reporting: bool
    unit_id: str | None = None
    asset: str | None = None
    online: bool = False
    state: str | None = None
    mode: str | None = None
    reported_at: datetime | None = None
    active_alarms: int = 0
    metrics: list[MetricValue] = Field(default_factory=list)


class AsBuiltStep(BaseModel):
    """One step of the product's making: which plant and machine did it, and when."""

    step: str
    name: str
    process: str
    unit_id: str | None
    machine: str | None
    started_at: datetime | None
    ended_at: datetime | None
    attempts: int = 0


class ServiceRequestCreate(BaseModel):
    """What a customer tells about the problem; the ticket is opened on the product's asset."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(max_length=200, description="what is wrong, in a few words")]
    description: Annotated[str, Field(max_length=2000)] = ""

    @field_validator("title")
    @classmethod
    def _said(cls, title: str) -> str:
        title = title.strip()
        if len(title) < 3:
            raise ValueError("say in a few words what is wrong (3 characters or more)")
        return title

    @field_validator("description")
    @classmethod
    def _trimmed(cls, description: str) -> str:
        return description.strip()


class CustomerUpdate(BaseModel):
    """A line of a service request's history that its customer may read."""

    at: datetime
    kind: str
    detail: str


class ServiceRequestRead(BaseModel):
    """A ticket on a product as its customer follows it: never the network's internal notes,
    its technicians' other work or its messages to them."""

    id: int
    serial: str | None
    title: str
    description: str
    status: TicketStatus
    priority: Priority
    opened_at: datetime
    response_due_at: datetime | None = Field(
        description="when the contract's response time runs out (none: no contract)"
    )
    due_at: datetime
    acknowledged_at: datetime | None
    visit_planned_at: datetime | None = Field(description="the technician's planned arrival")
    visit_started_at: datetime | None = Field(description="when the technician arrived")
    resolved_at: datetime | None
    resolution: str | None
    updates: list[CustomerUpdate] = Field(default_factory=list)


class ProductPage(BaseModel):
    """Everything a delivered product's page shows."""

    serial: str
    order_id: str
    customer_id: str
    family_id: str
    configuration: dict[str, Any]
    registered_at: datetime
    delivered_at: datetime | None
    as_built: list[AsBuiltStep]
    contract: ContractRead | None
    live: ProductLive
    service_requests: list[ServiceRequestRead]


class OverdueTicket(BaseModel):
    """A ticket on a delivered product whose contract's time ran out without an answer
    (response) or a repair (resolution)."""

    ticket_id: int
    serial: str
    customer_id: str
    title: str
    status: TicketStatus
    missed: str = Field(description="response or resolution")
    due_at: datetime
    overdue_minutes: float
