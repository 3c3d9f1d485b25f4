"""Invitations to members, consortia and their revisions, members and acceptances of terms;
tables and API schemas.

``invitations.sent_at`` and ``invitations.answered_at`` are the response time the scorecards
read (answered minus sent; unanswered invitations have no ``answered_at``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, StoredEnum, UtcDateTime, utcnow

Text = Annotated[str, Field(max_length=2000)]
Money = Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)]
UnitId = Annotated[str, Field(min_length=1, max_length=64)]
Step = Annotated[str, Field(min_length=1, max_length=64)]
MAX_INVITATIONS = 500


class WorkInvitationStatus(StrEnum):
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class FormedBy(StrEnum):
    ASSIGNMENT = "assignment"  # stable network, shared-service centre: the coordinator names them
    SELECTION = "selection"  # dynamic network, joint venture: chosen among accepted invitations


SUPPLIER_PARTY = "supplier:"
"""Suppliers' parties are named apart from member units (their ids may coincide)."""


class MemberRole(StrEnum):
    LEAD = "lead"
    PARTNER = "partner"
    LOCAL_SUPPLIER = "local_supplier"
    SUPPLIER = "supplier"  # a material line's supplier that is not local


# Tables -------------------------------------------------------------------------------------


class WorkInvitation(Base):
    """An offer of one required process's work to one member, answered by a deadline."""

    __tablename__ = "work_invitations"
    __table_args__ = (UniqueConstraint("opportunity_id", "step", "unit_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    opportunity_id: Mapped[str] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[str] = mapped_column(String(64))
    process: Mapped[str] = mapped_column(String(32))
    work_minutes: Mapped[float] = mapped_column(Float)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    deadline: Mapped[datetime] = mapped_column(UtcDateTime)
    status: Mapped[WorkInvitationStatus] = mapped_column(
        StoredEnum(WorkInvitationStatus, 16), default=WorkInvitationStatus.SENT
    )
    sent_by: Mapped[str] = mapped_column(String(200))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    answered_by: Mapped[str] = mapped_column(String(200), default="")
    price: Mapped[float | None] = mapped_column(Float, default=None)
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    earliest_start: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    earliest_end: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    decline_reason: Mapped[str] = mapped_column(String(2000), default="")


class Consortium(Base):
    """The members that make an opportunity together; its terms and shares are revisioned."""

    __tablename__ = "consortia"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    opportunity_id: Mapped[str] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    network_kind: Mapped[str] = mapped_column(String(40))
    formed_by: Mapped[FormedBy] = mapped_column(StoredEnum(FormedBy, 16))
    current_revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ConsortiumRevision(Base):
    """One version of the members, shares and terms: who wrote it, when and why."""

    __tablename__ = "consortium_revisions"
    __table_args__ = (UniqueConstraint("consortium_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    consortium_id: Mapped[str] = mapped_column(
        ForeignKey("consortia.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    payment_terms: Mapped[str] = mapped_column(String(2000), default="")
    penalties: Mapped[str] = mapped_column(String(2000), default="")
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    total_cost: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    local_share: Mapped[float | None] = mapped_column(Float, default=None)
    author: Mapped[str] = mapped_column(String(200))
    comment: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ConsortiumMember(Base):
    """A party of one revision: a member unit (or a supplier) with its role, the required
    processes it covers, its agreed price and its shares of the work and of the revenue."""

    __tablename__ = "consortium_members"
    __table_args__ = (UniqueConstraint("revision_id", "party_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    revision_id: Mapped[int] = mapped_column(
        ForeignKey("consortium_revisions.id", ondelete="CASCADE"), index=True
    )
    party_id: Mapped[str] = mapped_column(String(80))  # a unit id, or "supplier:" + its id
    unit_id: Mapped[str | None] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), default=None, index=True
    )
    role: Mapped[MemberRole] = mapped_column(StoredEnum(MemberRole, 16))
    steps: Mapped[list[str]] = mapped_column(JSON, default=list)
    price: Mapped[float] = mapped_column(Float)
    work_share: Mapped[float] = mapped_column(Float)
    revenue_share: Mapped[float] = mapped_column(Float)
    local: Mapped[bool] = mapped_column(Boolean, default=False)


class TermsAcceptance(Base):
    """A member unit's acceptance of one revision's terms: who, and when."""

    __tablename__ = "consortium_acceptances"
    __table_args__ = (UniqueConstraint("revision_id", "unit_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    revision_id: Mapped[int] = mapped_column(
        ForeignKey("consortium_revisions.id", ondelete="CASCADE"), index=True
    )
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"))
    principal_id: Mapped[int] = mapped_column(Integer)
    accepted_by: Mapped[str] = mapped_column(String(200))
    accepted_at: Mapped[datetime] = mapped_column(UtcDateTime)


class ConsortiumQuote(Base):
    """A quote made for an opportunity by its consortium: which revision of the members and
    terms it priced (its confirmation wins the opportunity; the ledger reads those shares)."""

    __tablename__ = "consortium_quotes"

    quote_id: Mapped[str] = mapped_column(
        ForeignKey("quotes.id", ondelete="CASCADE"), primary_key=True
    )
    opportunity_id: Mapped[str] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    consortium_id: Mapped[str] = mapped_column(ForeignKey("consortia.id", ondelete="CASCADE"))
    revision: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# Schemas ------------------------------------------------------------------------------------


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkInvitationsCreate(Schema):
    """Invite candidate members to the required processes of an opportunity (a dynamic network
    or a joint venture), each answered by ``deadline``."""

    deadline: AwareDatetime
    candidates: Annotated[
        dict[Step, Annotated[list[UnitId], Field(min_length=1, max_length=100)]],
        Field(min_length=1, max_length=100),
    ] = Field(description="required process (its step) -> the members invited to do it")


class WorkInvitationAccept(Schema):
    answer: Literal["accept"]
    price: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)]
    earliest_start: AwareDatetime
    earliest_end: AwareDatetime

    @field_validator("earliest_end")
    @classmethod
    def _after_start(cls, end: datetime, info: ValidationInfo) -> datetime:
        start = info.data.get("earliest_start")
        if start is not None and end <= start:
            raise ValueError("must come after the earliest start")
        return end


class WorkInvitationDecline(Schema):
    answer: Literal["decline"]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


WorkInvitationAnswer = Annotated[
    WorkInvitationAccept | WorkInvitationDecline, Field(discriminator="answer")
]


class WorkInvitationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    opportunity_id: str
    step: str
    process: str
    work_minutes: float
    unit_id: str
    deadline: datetime
    status: WorkInvitationStatus
    sent_at: datetime
    answered_at: datetime | None
    price: float | None
    currency: str
    earliest_start: datetime | None
    earliest_end: datetime | None
    decline_reason: str


class Terms(Schema):
    payment_terms: Text = ""
    penalties: Text = ""
    valid_until: AwareDatetime | None = None


class MemberAssignment(Schema):
    """A stable network's direct assignment: who does a required process, for what price."""

    unit_id: UnitId
    price: Money
    earliest_end: AwareDatetime | None = None


class ConsortiumCreate(Schema):
    """Form the consortium of an opportunity: by ``assignments`` in a stable network (or a
    shared-service centre), by selection among the accepted invitations otherwise."""

    terms: Terms = Field(default_factory=Terms)
    assignments: Annotated[dict[Step, MemberAssignment], Field(max_length=100)] | None = Field(
        default=None, description="required process (its step) -> its member; stable networks"
    )
    comment: Text = ""


class MemberChange(Schema):
    price: Money | None = None
    role: MemberRole | None = None


class ConsortiumRevisionCreate(Schema):
    """A new revision: changed terms and/or member prices or roles (shares follow the prices)."""

    base_revision: int = Field(description="the revision the editor saw; a newer one is a 409")
    terms: Terms | None = None
    members: Annotated[dict[UnitId, MemberChange], Field(max_length=100)] = Field(
        default_factory=dict
    )
    comment: Text = ""


class TermsAccept(Schema):
    revision: int = Field(ge=1, description="the revision whose terms are accepted")


class AcceptanceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    unit_id: str
    accepted_by: str
    accepted_at: datetime


class MemberRead(BaseModel):
    party_id: str
    unit_id: str | None
    role: MemberRole
    steps: list[str]
    work_share: float
    revenue_share: float | None = Field(description="the coordinator's and the member's own")
    local: bool
    price: float | None = Field(description="the coordinator's and the member's own")


class ConsortiumRead(BaseModel):
    id: str
    opportunity_id: str
    network_kind: str
    formed_by: FormedBy
    revision: int
    terms: Terms
    total_cost: float | None = Field(description="the coordinator's view only")
    currency: str
    local_share: float | None
    author: str
    comment: str
    created_at: datetime
    revised_at: datetime
    members: list[MemberRead]
    acceptances: list[AcceptanceRead]
    accepted_by_all: bool


class SelectedOfferRead(BaseModel):
    party_id: str
    steps: list[str]
    cost: float
    local: bool
    earliest_end: datetime | None
    arrives_at: datetime | None = Field(
        description="the earliest end plus the road from the party's plant to the site "
        "(a supplier's line: its lead time)"
    )


class SelectionRead(BaseModel):
    """What the selection would choose now (nothing stored), or why it cannot."""

    feasible: bool
    reasons: list[str]
    offers: list[SelectedOfferRead]
    total_cost: float | None
    local_share: float | None
    optimal: bool
