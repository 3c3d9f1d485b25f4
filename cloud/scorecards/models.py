"""Scorecards' API schemas (computed from recorded events; no tables of their own)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

METRICS: tuple[str, ...] = (
    "on_time",
    "rejection_rate",
    "availability",
    "quantity_ratio",
    "response_hours",
)
"""The figures a scorecard benchmarks against the network, by field name."""


class Scorecard(BaseModel):
    """One member's figures over the period (``None``: no event to judge it by)."""

    unit_id: str
    operations_ended: int = Field(description="operations the member ended in the period")
    on_time: float | None = Field(
        description="share of those ended by their planned end (within the late tolerance)"
    )
    dispatches: int = Field(description="operations sent to the member that it ended or gave back")
    rejected: int = Field(description="of those, the ones its machines rejected")
    rejection_rate: float | None = Field(description="rejected / dispatches")
    availability: float | None = Field(
        description="the maintenance figures' availability of the member's machines"
    )
    quantity_ratio: float | None = Field(
        description="quantity its machines reported produced / quantity ordered, over the"
        " ended operations that reported one"
    )
    invitations: int = Field(
        default=0, description="invitations to offer work sent to the member, answered or due"
    )
    response_hours: float | None = Field(
        default=None, description="mean time from an invitation to the member's answer"
    )
    responsiveness: float | None = Field(
        default=None,
        description="mean share of the time to each invitation's deadline left when answered"
        " (0: not answered in time)",
    )
    score: float = Field(ge=0, le=1, description="what partner search ranks by (see the docs)")


class Percentiles(BaseModel):
    """A figure across the network's members that have it; no member is named."""

    members: int
    p25: float | None
    p50: float | None
    p75: float | None


class ScorecardsRead(BaseModel):
    """Scorecards as the caller may see them: a member its own, a coordinator everyone's; the
    network's percentiles for every caller."""

    period_start: datetime
    period_end: datetime
    members: list[Scorecard]
    network: dict[str, Percentiles]
