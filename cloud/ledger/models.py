"""The ledger: who earned what on a delivered order; its table and API schemas."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, computed_field
from sqlalchemy import Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, StoredEnum, UtcDateTime


class EntryKind(StrEnum):
    MEMBER = "member"
    """A member's revenue for its share of the work, and its cost."""
    NETWORK_FEE = "network_fee"
    """What the network keeps for its coordination (``ledger.network_fee`` of the price)."""
    PURCHASE = "purchase"
    """What a supplier is paid for the materials bought from it for the order."""


class Basis(StrEnum):
    """Where a member's share of the revenue comes from."""

    AGREED = "agreed"
    """The share agreed in the order's consortium terms."""
    COST = "cost"
    """No agreed terms: in proportion to the member's cost (machine time * hourly rate)."""
    WORK = "work"
    """No agreed terms and no rates: in proportion to the member's machine time."""
    PURCHASE = "purchase"
    """A supplier's line: the order's purchases from it at their prices, not a share."""


# Tables -------------------------------------------------------------------------------------


class LedgerEntry(Base):
    """One line of a delivered order's ledger, written once when the order is delivered.

    Line 0 is the network's fee, lines 1… the members in unit order, then the suppliers paid for
    the order's purchases (``unit_id`` their party id, ``supplier:…``): the key (order, line) makes
    a second writer of the same ledger fail instead of doubling it."""

    __tablename__ = "ledger_entries"

    order_id: Mapped[str] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    line: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[EntryKind] = mapped_column(StoredEnum(EntryKind, 16))
    unit_id: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    work_s: Mapped[float] = mapped_column(Float, default=0.0)
    hourly_rate: Mapped[float | None] = mapped_column(Float, default=None)
    cost: Mapped[float] = mapped_column(Float, default=0.0)
    share: Mapped[float] = mapped_column(Float)
    revenue: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    basis: Mapped[str] = mapped_column(String(16))
    written_at: Mapped[datetime] = mapped_column(UtcDateTime)


# Schemas ------------------------------------------------------------------------------------


class EntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    order_id: str
    kind: EntryKind
    unit_id: str | None = Field(
        description="the member, or a supplier's party id (supplier:…); none for the network's fee"
    )
    work_s: float = Field(description="the member's machine time on the order (plant seconds)")
    hourly_rate: float | None = Field(description="the member's rate; none when it gave none")
    cost: float = Field(
        description="machine time * hourly rate (the agreed cost when priced); "
        "a purchase: its amount"
    )
    share: float = Field(
        description="the member's share of the price after the network's fee and the purchases; "
        "0 for a purchase, which is paid its amount"
    )
    revenue: float
    currency: str
    basis: str
    written_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def margin(self) -> float:
        """Revenue less cost."""
        return round(self.revenue - self.cost, 2)


class OrderLedger(BaseModel):
    """An order's ledger as the caller may see it: a coordinator every line, a member its own."""

    order_id: str
    price: float | None = Field(description="the customer's price; shown to coordinators only")
    network_fee: float | None = Field(description="the fee's amount; shown to coordinators only")
    currency: str
    delivered_at: datetime | None
    entries: list[EntryRead]


class MemberTotal(BaseModel):
    """A member's ledger summed over its delivered orders."""

    unit_id: str
    currency: str
    orders: int
    work_s: float
    cost: float
    revenue: float
    margin: float
