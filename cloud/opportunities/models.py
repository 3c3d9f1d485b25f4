"""Opportunities (a customer's configured product or a call for tenders), their required
processes and their audit trail; tables and API schemas."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError
from sqlalchemy import JSON, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.codesign.families import Slug
from cloud.database import Base, StoredEnum, UtcDateTime, utcnow
from cloud.geo import Country
from protocols.enums import ProcessKind
from protocols.messages import MAX_JOB_QUANTITY
from protocols.topics import IDENTIFIER_PATTERN

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN.pattern)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=2000)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR")]
Finite = Annotated[float, Field(allow_inf_nan=False)]
MAX_PROCESSES = 100
MAX_WORK_MINUTES = 10_000_000.0  # about 19 years of one machine: a typo, not a tender
MAX_QUANTITY = MAX_JOB_QUANTITY  # a line is one job order per step: what a machine may be asked
MAX_MATERIALS = 32
TENDER_STEP = "p{}"
"""A call for tenders' line n (from 1) is the step ``p{n}``."""


class OpportunityStatus(StrEnum):
    OPEN = "open"
    FORMING = "forming"  # partners are being searched, invited, selected
    QUOTED = "quoted"
    WON = "won"
    LOST = "lost"
    WITHDRAWN = "withdrawn"


class OpportunitySource(StrEnum):
    CONFIGURATION = "configuration"  # a customer's configured revision
    TENDER = "tender"  # a call for tenders the coordinator entered


TRANSITIONS: dict[OpportunityStatus, frozenset[OpportunityStatus]] = {
    OpportunityStatus.OPEN: frozenset(
        {OpportunityStatus.FORMING, OpportunityStatus.LOST, OpportunityStatus.WITHDRAWN}
    ),
    OpportunityStatus.FORMING: frozenset(
        {
            OpportunityStatus.OPEN,
            OpportunityStatus.QUOTED,
            OpportunityStatus.LOST,
            OpportunityStatus.WITHDRAWN,
        }
    ),
    OpportunityStatus.QUOTED: frozenset(
        {
            OpportunityStatus.FORMING,
            OpportunityStatus.WON,
            OpportunityStatus.LOST,
            OpportunityStatus.WITHDRAWN,
        }
    ),
    OpportunityStatus.WON: frozenset(),
    OpportunityStatus.LOST: frozenset(),
    OpportunityStatus.WITHDRAWN: frozenset(),
}
"""Where an opportunity may go from each status; won, lost and withdrawn are final. Quoted may
go back to forming (the customer asked for another consortium), forming back to open."""


# Tables -------------------------------------------------------------------------------------


class Opportunity(Base):
    __tablename__ = "opportunities"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    network_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    source: Mapped[OpportunitySource] = mapped_column(StoredEnum(OpportunitySource, 16))
    customer_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    configuration_id: Mapped[str | None] = mapped_column(String(32), default=None)
    revision: Mapped[int | None] = mapped_column(Integer, default=None)
    family_id: Mapped[str | None] = mapped_column(String(64), default=None)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[OpportunityStatus] = mapped_column(
        StoredEnum(OpportunityStatus, 16), default=OpportunityStatus.OPEN, index=True
    )
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    site_name: Mapped[str] = mapped_column(String(200), default="")
    site_latitude: Mapped[float] = mapped_column(Float)
    site_longitude: Mapped[float] = mapped_column(Float)
    site_country: Mapped[str] = mapped_column(String(2))
    budget: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(3))
    # {"min_share": 0.3, "within_km": 50} or {"min_share": 0.3, "country": "IT"}; None: no rule.
    local_content: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    description: Mapped[str] = mapped_column(String(2000), default="")
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class OpportunityProcess(Base):
    """One required process of an opportunity: a routing step of the configured product, or a
    line of the call for tenders."""

    __tablename__ = "opportunity_processes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    opportunity_id: Mapped[str] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    process: Mapped[str] = mapped_column(String(32))
    requirements: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    certifications: Mapped[list[str]] = mapped_column(JSON, default=list)
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    # Machine time of the whole line (all of its quantity), nominal, in plant minutes.
    work_minutes: Mapped[float] = mapped_column(Float)
    predecessors: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A call for tenders' bill of materials for this line ({item, description, quantity, unit,
    # unit_cost}); a configured product's come from its family, so its lines have none here.
    materials: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class OpportunityEvent(Base):
    """The audit trail: every status change, who made it, when, and why."""

    __tablename__ = "opportunity_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    opportunity_id: Mapped[str] = mapped_column(
        ForeignKey("opportunities.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    principal_id: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(200))
    from_status: Mapped[OpportunityStatus | None] = mapped_column(
        StoredEnum(OpportunityStatus, 16), default=None
    )
    to_status: Mapped[OpportunityStatus] = mapped_column(StoredEnum(OpportunityStatus, 16))
    note: Mapped[str] = mapped_column(String(2000), default="")


# Schemas ------------------------------------------------------------------------------------


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Site(Schema):
    name: Annotated[str, Field(max_length=200)] = ""
    latitude: Annotated[float, Field(ge=-90, le=90)]
    longitude: Annotated[float, Field(ge=-180, le=180)]
    country: Country


class LocalContentRule(Schema):
    """A minimum share of the value from members or suppliers near the site: within
    ``within_km`` of it, or in ``country`` (one of the two)."""

    min_share: Annotated[float, Field(gt=0, le=1, description="0.3: at least 30 % of the value")]
    within_km: Annotated[float, Field(gt=0, le=20_000)] | None = None
    country: Country | None = None

    @model_validator(mode="after")
    def _one_place(self) -> LocalContentRule:
        if (self.within_km is None) == (self.country is None):
            raise ValueError("say where local is: within_km of the site, or a country (not both)")
        return self


class TenderMaterial(Schema):
    """A material a call for tenders' line consumes: bought from the network's suppliers
    (``item`` is what they offer), or at ``unit_cost`` when none offers it."""

    item: Slug
    description: Annotated[str, Field(max_length=200)] = ""
    quantity: Annotated[float, Field(gt=0, le=1e9, allow_inf_nan=False)]
    unit: Annotated[str, Field(min_length=1, max_length=16)] = "pcs"
    unit_cost: Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)] = Field(
        description="the estimate per unit, priced when no supplier offers the item"
    )


class ProcessRequirement(Schema):
    """A line of a call for tenders."""

    process: ProcessKind
    name: Annotated[str, Field(max_length=200)] = ""
    requirements: Annotated[
        dict[Annotated[str, Field(min_length=1, max_length=200)], Finite], Field(max_length=64)
    ] = Field(
        default_factory=dict, description="capability parameter: least value, e.g. max_load_kg: 120"
    )
    certifications: Annotated[list[Name], Field(max_length=32)] = Field(default_factory=list)
    quantity: Annotated[int, Field(ge=1, le=MAX_QUANTITY)] = 1
    work_minutes: Annotated[
        float, Field(gt=0, le=MAX_WORK_MINUTES, description="machine time of the whole line")
    ]
    predecessors: Annotated[list[Annotated[str, Field(max_length=8)]], Field(max_length=16)] = (
        Field(
            default_factory=list,
            description="earlier lines whose work this one continues, as p1, p2, … (line 1 is "
            "p1): it starts after they end, moved between plants if they are elsewhere",
        )
    )
    materials: Annotated[list[TenderMaterial], Field(max_length=MAX_MATERIALS)] = Field(
        default_factory=list
    )


class OpportunityCreate(Schema):
    """From a customer's configured revision (``configuration_id``; the processes come from its
    work breakdown) or a call for tenders (``processes``): one of the two."""

    title: Name
    due_at: datetime
    site: Site
    budget: Annotated[float, Field(gt=0, le=1e12, allow_inf_nan=False)] | None = Field(
        default=None, description="default for a configuration: its price x quantity"
    )
    currency: Currency | None = Field(default=None, description="default: the family's or EUR")
    local_content: LocalContentRule | None = None
    description: Text = ""
    customer_id: Identifier | None = Field(
        default=None, description="a tender's customer; a configuration's own is taken"
    )
    configuration_id: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    revision: Annotated[int, Field(ge=1)] | None = Field(
        default=None, description="default: the current revision"
    )
    quantity: Annotated[int, Field(ge=1, le=10_000)] = Field(
        default=1, description="products of the configuration"
    )
    processes: Annotated[list[ProcessRequirement], Field(max_length=MAX_PROCESSES)] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> OpportunityCreate:
        if (self.configuration_id is None) == (self.processes is None):
            raise ValueError(
                "give either configuration_id (a configured product) or processes (a call for "
                "tenders), not both"
            )
        if self.processes is not None:
            if not self.processes:
                raise ValueError("a call for tenders names at least one process")
            if self.budget is None:
                raise ValueError("a call for tenders states its budget")
            _earlier_lines_only(self.processes)
        if self.due_at.tzinfo is None:
            raise ValueError("due_at needs a time zone (e.g. 2027-03-12T17:00:00Z)")
        return self


_LATER_PREDECESSOR = "line {line} can follow only earlier lines ({earlier}), not {strays}"


def _earlier_lines_only(lines: list[ProcessRequirement]) -> None:
    """A line follows only lines before it (so the work has no cycle). Each stray is an error
    at its line's ``predecessors`` (``processes.1.predecessors``), so a form can show it there."""
    problems = []
    for number, line in enumerate(lines, start=1):
        earlier = {TENDER_STEP.format(n) for n in range(1, number)}
        strays = [step for step in line.predecessors if step not in earlier]
        if strays:
            words = {
                "line": TENDER_STEP.format(number),
                "earlier": ", ".join(sorted(earlier)) or "none",
                "strays": ", ".join(strays),
            }
            problems.append(
                InitErrorDetails(
                    type=PydanticCustomError("later_predecessor", _LATER_PREDECESSOR, words),
                    loc=("processes", number - 1, "predecessors"),
                    input=line.predecessors,
                )
            )
    if problems:
        # Raised from the model's validator, a ValidationError keeps its errors' places.
        raise ValidationError.from_exception_data("OpportunityCreate", problems)


class StatusChange(Schema):
    to: OpportunityStatus
    note: Text = ""


class ProcessRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    position: int
    step: str
    name: str
    process: str
    requirements: dict[str, float]
    certifications: list[str]
    quantity: int
    work_minutes: float
    predecessors: list[str]
    materials: list[TenderMaterial] = Field(default_factory=list)


class EventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: datetime
    actor: str
    from_status: OpportunityStatus | None
    to_status: OpportunityStatus
    note: str


class OpportunityRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    title: str
    source: OpportunitySource
    customer_id: str | None
    configuration_id: str | None
    revision: int | None
    family_id: str | None
    quantity: int
    status: OpportunityStatus
    due_at: datetime
    site: Site
    budget: float
    currency: str
    local_content: LocalContentRule | None
    description: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    next_statuses: list[OpportunityStatus] = Field(default_factory=list)
    processes: list[ProcessRead] = Field(default_factory=list)
    events: list[EventRead] = Field(default_factory=list)


class CandidateRead(BaseModel):
    """A member for one required process. ``hourly_rate`` and ``cost`` only to the coordinator
    and to the member itself; ``score`` and ``rank`` (relative to the others) to the
    coordinator only."""

    unit_id: str
    company: str
    eligible: bool
    reasons: list[str] = Field(description="why not eligible, in words; empty when eligible")
    parameters_met: int
    parameters_total: int
    machines: list[str] = Field(description="its machines that can do the process")
    distance_km: float = Field(description="great-circle distance from the delivery site")
    transport_hours: float
    earliest_end: datetime | None = Field(description="the work's earliest end on its machines")
    delivery_at: datetime | None = Field(description="earliest end plus transport to the site")
    hourly_rate: float | None
    currency: str
    cost: float | None = Field(description="hourly rate x the line's work")
    scorecard: float
    local: bool | None = Field(
        description="local by the local-content rule (within its distance of the site, or in"
        " its country: a member whose country is not known is not); None without a rule"
    )
    locality: str | None = Field(
        default=None,
        description='why local or not, in words ("in IT", "country unknown: not counted as'
        ' in IT", "within 25 km of the site"); None without a rule',
    )
    score: float | None
    rank: int | None


class ProcessCandidates(BaseModel):
    position: int
    step: str
    name: str
    process: str
    work_minutes: float
    requirements: dict[str, float]
    certifications: list[str]
    eligible: int | None = Field(description="how many members are eligible (coordinator only)")
    candidates: list[CandidateRead]


class PartnerSearchRead(BaseModel):
    opportunity_id: str
    due_at: datetime
    searched_at: datetime
    members: int | None = Field(description="members searched (coordinator only)")
    processes: list[ProcessCandidates]
