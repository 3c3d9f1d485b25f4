"""Quotes, orders, their operations and delivered products; tables and API schemas."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, CheckConstraint, Float, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, StoredEnum, UtcDateTime, utcnow


class OrderStatus(StrEnum):
    CONFIRMED = "confirmed"
    PLANNED = "planned"
    IN_PRODUCTION = "in_production"
    COMPLETED = "completed"
    DELIVERED = "delivered"


class OperationStatus(StrEnum):
    """Where one operation stands; ``dispatched``/``accepted``/``running`` are frozen in plans."""

    WAITING = "waiting"  # not planned yet
    PLANNED = "planned"
    DISPATCHED = "dispatched"
    ACCEPTED = "accepted"
    RUNNING = "running"
    ENDED = "ended"


class QuoteStatus(StrEnum):
    """Where a quote stands. An open quote past its ``valid_until`` has expired: its holds no
    longer count at once, and the dispatcher's next tick marks it expired
    (:func:`cloud.orders.flows.expire_quote`)."""

    OPEN = "open"
    CONFIRMED = "confirmed"
    REFUSED = "refused"  # by the customer
    WITHDRAWN = "withdrawn"  # by the network
    EXPIRED = "expired"  # past its valid_until, nobody having answered it


UNFINISHED = (OrderStatus.CONFIRMED, OrderStatus.PLANNED, OrderStatus.IN_PRODUCTION)
"""Orders still on the network's plan."""
FROZEN_STATUSES = (OperationStatus.DISPATCHED, OperationStatus.ACCEPTED, OperationStatus.RUNNING)
OPEN_STATUSES = (OperationStatus.WAITING, OperationStatus.PLANNED, *FROZEN_STATUSES)


# Tables -------------------------------------------------------------------------------------


class Quote(Base):
    """A price and a promised date for some work: a customer's configured revision
    (``configuration_id`` and ``revision``), or an opportunity's (``opportunity_id``: a
    consortium's quote, of a configured revision or of a call for tenders' lines, which has no
    configuration). ``work`` holds the operations and materials it planned either way."""

    __tablename__ = "quotes"
    __table_args__ = (
        CheckConstraint(
            "configuration_id IS NOT NULL OR opportunity_id IS NOT NULL", name="quoted_work"
        ),
        # The dispatcher looks for open quotes past their validity before every tick.
        Index("ix_quotes_status_valid_until", "status", "valid_until"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    configuration_id: Mapped[str | None] = mapped_column(
        ForeignKey("configurations.id", ondelete="CASCADE"), index=True, default=None
    )
    revision: Mapped[int | None] = mapped_column(Integer, default=None)
    opportunity_id: Mapped[str | None] = mapped_column(
        ForeignKey("opportunities.id"), index=True, default=None
    )
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    price: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    promised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime)
    work: Mapped[dict[str, Any]] = mapped_column(JSON)
    order_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    status: Mapped[QuoteStatus] = mapped_column(
        StoredEnum(QuoteStatus, 16), default=QuoteStatus.OPEN
    )
    # How the price was made: basis, lines by member, materials, transport, margin (see
    # cloud.orders.pricing); who sees which lines is decided when it is read.
    breakdown: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CapacityHold(Base):
    """Machine time an open quote promised: one operation of its what-if plan, held until the
    quote's ``valid_until``. Plans treat it as time the machine is taken (quotes and the
    dispatcher alike); confirming turns it into the order's operations, refusing, withdrawing
    or expiry release it."""

    __tablename__ = "capacity_holds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    quote_id: Mapped[str] = mapped_column(ForeignKey("quotes.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(64))
    unit_id: Mapped[str] = mapped_column(String(64))
    machine: Mapped[str] = mapped_column(String(64))
    # From the change-over's start (or the work's, without one) to the work's end, wall clock.
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    work_starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class Order(Base):
    """A confirmed quote's work. A configured product's order names its configuration, family
    and option values; a call for tenders' order has none of them (``values`` empty) and
    names its opportunity, whose lines its operations are."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    quote_id: Mapped[str] = mapped_column(ForeignKey("quotes.id"), unique=True)
    configuration_id: Mapped[str | None] = mapped_column(String(32), default=None)
    opportunity_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    family_id: Mapped[str | None] = mapped_column(String(64), default=None)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    price: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    promised_at: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[OrderStatus] = mapped_column(
        StoredEnum(OrderStatus, 20), default=OrderStatus.CONFIRMED
    )
    planned_end: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class OrderOperation(Base):
    """One routing step of an order and its life on the network's machines."""

    __tablename__ = "order_operations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    process: Mapped[str] = mapped_column(String(32))
    # The parts its job order asks for, made as one batch in ``duration_s``.
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    duration_s: Mapped[float] = mapped_column(Float)
    predecessors: Mapped[list[str]] = mapped_column(JSON, default=list)
    requirements: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    certifications: Mapped[list[str]] = mapped_column(JSON, default=list)
    excluded: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[OperationStatus] = mapped_column(
        StoredEnum(OperationStatus, 16), default=OperationStatus.WAITING
    )
    unit_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    machine: Mapped[str | None] = mapped_column(String(64), default=None)
    job_order_id: Mapped[str | None] = mapped_column(String(64), default=None, unique=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    planned_start: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # The change-over before the work, when the plan gives one (it ends when the work starts).
    planned_setup_start: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # Who attends it, when its step needs an operator (a plant operator's id).
    planned_operator: Mapped[str | None] = mapped_column(String(64), default=None)
    planned_end: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class DeliveredProduct(Base):
    """A finished product as an asset for post-sale service, with its as-built record."""

    __tablename__ = "delivered_products"

    serial: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id"), unique=True)
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    family_id: Mapped[str] = mapped_column(String(64))
    configuration: Mapped[dict[str, Any]] = mapped_column(JSON)
    as_built: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    registered_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # The asset under which a field gateway reports the product at its site (a registry
    # machine of ``asset_kind`` product); None: no field gateway reports it.
    field_unit_id: Mapped[str | None] = mapped_column(String(64), default=None)
    field_asset: Mapped[str | None] = mapped_column(String(64), default=None)


# Schemas ------------------------------------------------------------------------------------


class QuoteCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    configuration_id: Annotated[str, Field(max_length=32)]
    revision: int | None = Field(default=None, description="default: the current revision")


class QuoteRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    configuration_id: str | None
    revision: int | None
    opportunity_id: str | None = None
    customer_id: str
    price: float
    currency: str
    promised_at: datetime
    valid_until: datetime
    work: dict[str, Any]
    order_id: str | None
    created_at: datetime
    status: QuoteStatus = QuoteStatus.OPEN


class PriceLine(BaseModel):
    """One line of a quote's price: a member's operation (machine hours x its rate, plus its
    setup cost), a material, a transport between two plants, the delivery from the plant of a
    last operation to the customer's site, or the network's margin."""

    kind: Literal["operation", "material", "transport", "delivery", "margin"]
    description: str
    unit_id: str | None = None  # the member it is for (operations) or ships it (a delivery)
    item: str | None = None  # the material (materials)
    step: str | None = None
    process: str | None = None
    machine: str | None = None
    quantity: float = Field(description="hours, material quantity, km, or the margin's base")
    unit: str = Field(description="h, the material's unit, km, or the currency")
    rate: float | None = Field(description="per unit of quantity; null: not priced by it")
    setup_cost: float = 0.0
    amount: float | None = Field(description="in the quote's currency; null: not priced by it")


class QuoteBreakdown(BaseModel):
    """A quote's price as the caller may see it: the customer the total and its options, a
    member its own lines, the coordinator every line."""

    quote_id: str
    currency: str
    opportunity_id: str | None = Field(
        default=None, description="the opportunity quoted (a call for tenders has no options)"
    )
    basis: Literal["members", "family"] | None = Field(
        default=None,
        description="members: priced from the members' rates; family: by the product family's "
        "formula, since no member of the plan has rates (coordinator only)",
    )
    note: str | None = None
    options: dict[str, Any] | None = None
    lines: list[PriceLine] = Field(default_factory=list)
    subtotal: float | None = None
    margin: float | None = None
    total: float | None = None


class OperationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    step: str
    name: str
    process: str
    quantity: int = Field(default=1, description="parts its job order asks for, as one batch")
    duration_s: float
    predecessors: list[str]
    status: OperationStatus
    unit_id: str | None
    machine: str | None
    job_order_id: str | None
    planned_setup_start: datetime | None = None
    planned_operator: str | None = None
    planned_start: datetime | None
    planned_end: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    progress: float


class OrderRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    quote_id: str
    configuration_id: str | None
    opportunity_id: str | None = None
    customer_id: str
    family_id: str | None
    values: dict[str, Any]
    price: float
    currency: str
    promised_at: datetime
    status: OrderStatus
    planned_end: datetime | None
    created_at: datetime
    completed_at: datetime | None
    delivered_at: datetime | None
    progress: float = 0.0
    operations: list[OperationRead] = Field(default_factory=list)


class ProductRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    serial: str
    order_id: str
    customer_id: str
    family_id: str
    configuration: dict[str, Any]
    as_built: list[dict[str, Any]]
    registered_at: datetime
    field_unit_id: str | None = None
    field_asset: str | None = None


class DispatchedOperation(BaseModel):
    """What a plant sees of the work sent to it: no prices, no customer."""

    job_order_id: str
    unit_id: str
    machine: str
    name: str
    process: str
    duration_s: float
    status: OperationStatus
    planned_start: datetime | None
    planned_end: datetime | None
    progress: float
