"""Co-design tables (configurations and their revisions) and their API schemas."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.auth.models import Role
from cloud.database import Base, StoredEnum, UtcDateTime, utcnow

OptionValue = bool | int | Annotated[float, Field(allow_inf_nan=False)] | str
Values = Annotated[dict[Annotated[str, Field(max_length=64)], OptionValue], Field(max_length=64)]
Comment = Annotated[str, Field(max_length=2000)]


# Tables -------------------------------------------------------------------------------------


class Configuration(Base):
    """A shared configuration document of one product family for one customer."""

    __tablename__ = "configurations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    family_id: Mapped[str] = mapped_column(String(64))
    customer_id: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(200))
    current_revision: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ConfigurationRevision(Base):
    """One edit: who, when, what changed and why; validated when written."""

    __tablename__ = "configuration_revisions"
    __table_args__ = (UniqueConstraint("configuration_id", "number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    configuration_id: Mapped[str] = mapped_column(
        ForeignKey("configurations.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    values: Mapped[dict[str, Any]] = mapped_column(JSON)
    changes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    author: Mapped[str] = mapped_column(String(200))
    author_role: Mapped[Role] = mapped_column(StoredEnum(Role, 20))
    comment: Mapped[str] = mapped_column(String(2000), default="")
    valid: Mapped[bool] = mapped_column(Boolean)
    problems: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


# Schemas ------------------------------------------------------------------------------------


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConfigurationCreate(Schema):
    family_id: Annotated[str, Field(max_length=64)]
    title: Annotated[str, Field(min_length=1, max_length=200)] = "New configuration"
    values: Values = Field(default_factory=dict)
    comment: Comment = ""
    customer_id: Annotated[str, Field(max_length=64)] | None = Field(
        default=None, description="for whom (coordinators only; customers configure for themselves)"
    )


class RevisionCreate(Schema):
    """A change: the options to set (others keep their value) and why."""

    values: Values
    comment: Comment = ""
    base_revision: int | None = Field(
        default=None, description="the revision the editor saw; a newer one is a 409 conflict"
    )


class ConfigurationDuplicate(Schema):
    """A new configuration from a saved one's values (its current revision unless named)."""

    revision: int | None = Field(default=None, ge=1, description="the revision to copy")
    title: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    comment: Comment = ""


class ProblemRead(BaseModel):
    message: str
    option: str | None = None
    rule: str | None = None


class AllowedRead(BaseModel):
    values: list[Any] | None = None
    ranges: list[tuple[float, float]] | None = None
    max_length: int | None = None


class RevisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    values: dict[str, Any]
    changes: list[dict[str, Any]]
    author: str
    author_role: Role
    comment: str
    valid: bool
    problems: list[ProblemRead]
    created_at: datetime


class ConfigurationRead(BaseModel):
    id: str
    family_id: str
    customer_id: str
    title: str
    created_at: datetime
    revision: RevisionRead
    allowed: dict[str, AllowedRead]


class CheckResult(BaseModel):
    """The answer of a dry-run check: used by the configurator page while the user types."""

    valid: bool
    values: dict[str, Any]
    problems: list[ProblemRead]
    allowed: dict[str, AllowedRead]
    price: float | None = None
    currency: str | None = None
