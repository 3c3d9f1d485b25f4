"""What the maintenance sub-domains share: the field types and schema bases of their API, and
the figures' schemas (:mod:`cloud.maintenance.reporting`). The tables are the sub-domains' own
(``tickets/``, ``alerts/``, ``windows/``, ``plans/``, ``webhooks/``, ``visits/``); maintenance's
notifications are the coordinator's outbox rows of origin "maintenance"
(:class:`~cloud.messaging.models.OutboxMessage`)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from protocols.topics import IDENTIFIER_PATTERN

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN.pattern)]
Text = Annotated[str, Field(max_length=2000)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadSchema(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class FiguresRead(BaseModel):
    scope: str
    period_start: datetime
    period_end: datetime
    failures: int
    mttr_minutes: float | None
    mtbf_hours: float | None
    availability: float | None
    alerts_per_week: float
    tickets: int
    within_service_level: float | None


class ComparisonRow(BaseModel):
    member: str
    is_you: bool
    figures: FiguresRead
