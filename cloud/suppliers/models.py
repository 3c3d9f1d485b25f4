"""Suppliers, their offers and the purchase requests of orders; tables and API schemas."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.codesign.families import Slug
from cloud.database import Base, StoredEnum, UtcDateTime, utcnow
from cloud.geo import Country
from cloud.registry.models import Identifier, Latitude, Longitude, Name, Text, omittable

Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
Money = Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
LeadTimeDays = Annotated[float, Field(ge=0, le=365, allow_inf_nan=False)]


class PurchaseStatus(StrEnum):
    REQUESTED = "requested"  # sent to the supplier, expected on ``expected_at``
    DELIVERED = "delivered"


# Tables -------------------------------------------------------------------------------------


class Supplier(Base):
    __tablename__ = "suppliers"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    network_id: Mapped[str] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True
    )
    company: Mapped[str] = mapped_column(String(200))
    site: Mapped[str] = mapped_column(String(200), default="")
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    country: Mapped[str] = mapped_column(String(2))
    # Declared local (a partner of the network's region), whatever a rule computes.
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class SupplierOffer(Base):
    """One material or component a supplier offers: price per unit and lead time."""

    __tablename__ = "supplier_offers"
    __table_args__ = (UniqueConstraint("supplier_id", "item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    supplier_id: Mapped[str] = mapped_column(
        ForeignKey("suppliers.id", ondelete="CASCADE"), index=True
    )
    item: Mapped[str] = mapped_column(String(64), index=True)
    description: Mapped[str] = mapped_column(String(200), default="")
    unit_price: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    lead_time_days: Mapped[float] = mapped_column(Float)


class PurchaseRequest(Base):
    """A material line of a confirmed order bought from a supplier. Until it is delivered, the
    operations of ``steps`` may not start before ``expected_at`` (their release date)."""

    __tablename__ = "purchase_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    supplier_id: Mapped[str] = mapped_column(ForeignKey("suppliers.id"), index=True)
    item: Mapped[str] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(200), default="")
    quantity: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(16), default="pcs")
    unit_price: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    local: Mapped[bool] = mapped_column(Boolean, default=False)
    steps: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[PurchaseStatus] = mapped_column(
        StoredEnum(PurchaseStatus, 16), default=PurchaseStatus.REQUESTED, index=True
    )
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    expected_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    # Delays and the delivery, in order: {"at", "event", "expected_at"?, "reason"?, "by"}.
    history: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


# Schemas ------------------------------------------------------------------------------------


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


class OfferSet(Schema):
    description: Annotated[str, Field(max_length=200)] = ""
    unit_price: Money = Field(description="per unit of the bill-of-materials line")
    currency: Currency = "EUR"
    lead_time_days: LeadTimeDays


class OfferRead(OfferSet):
    model_config = ConfigDict(extra="ignore", from_attributes=True)
    item: str


class SupplierFields(Schema):
    company: Name
    site: Annotated[str, Field(max_length=200)] = ""
    latitude: Latitude
    longitude: Longitude
    country: Country
    local: bool = Field(default=False, description="declared local to the network's region")


class SupplierCreate(SupplierFields):
    id: Identifier
    offers: Annotated[dict[Slug, OfferSet], Field(max_length=200)] = Field(
        default_factory=dict, description="by item (a family's material id)"
    )


class SupplierUpdate(Schema):
    company: Name = omittable()
    site: Annotated[str, Field(max_length=200)] = omittable()
    latitude: Latitude = omittable()
    longitude: Longitude = omittable()
    country: Country = omittable()
    local: bool = omittable()


class SupplierRead(SupplierFields):
    model_config = ConfigDict(extra="ignore", from_attributes=True)
    id: str
    network_id: str
    created_at: datetime
    offers: list[OfferRead] = Field(default_factory=list)


class MaterialLineIn(Schema):
    item: Slug
    quantity: Annotated[float, Field(gt=0, le=1e9, allow_inf_nan=False)]
    description: Annotated[str, Field(max_length=200)] = ""
    unit: Annotated[str, Field(max_length=16)] = "pcs"
    steps: Annotated[list[Slug], Field(max_length=50)] = Field(default_factory=list)


class SiteIn(Schema):
    latitude: Latitude
    longitude: Longitude
    country: Country | None = None


class LocalRuleIn(Schema):
    within_km: Annotated[float, Field(gt=0, le=20000, allow_inf_nan=False)] | None = None
    country: Country | None = None


class MatchRequest(Schema):
    materials: Annotated[list[MaterialLineIn], Field(min_length=1, max_length=200)]
    site: SiteIn | None = None
    rule: LocalRuleIn | None = Field(
        default=None, description="local suppliers first, by distance to the site or country"
    )
    currency: Currency | None = None


class MatchedLineRead(BaseModel):
    item: str
    description: str
    quantity: float
    unit: str
    steps: list[str]
    supplier_id: str | None
    supplier: str | None
    unit_price: float | None
    price: float | None
    currency: str | None
    lead_time_days: float | None
    local: bool
    reasons: list[str]


class PurchaseRead(BaseModel):
    """A purchase request; prices only for the coordinator (None for a plant or a customer)."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    order_id: str
    supplier_id: str | None
    item: str
    description: str
    quantity: float
    unit: str
    unit_price: float | None
    currency: str | None
    local: bool
    steps: list[str]
    status: PurchaseStatus
    requested_at: datetime
    expected_at: datetime
    delivered_at: datetime | None
    history: list[dict[str, Any]]


class DeliveryRecord(Schema):
    delivered_at: AwareDatetime | None = Field(default=None, description="default: now")
    note: Text = ""


class DelayRecord(Schema):
    expected_at: AwareDatetime = Field(description="the supplier's new delivery date")
    reason: Text = ""
