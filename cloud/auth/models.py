"""Principals (API callers) with hashed API keys, their roles and their scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Boolean, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, UtcDateTime, utcnow
from protocols.topics import IDENTIFIER_PATTERN

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN.pattern)]


class Role(StrEnum):
    COORDINATOR = "coordinator"
    PLANT = "plant"
    TECHNICIAN = "technician"
    CUSTOMER = "customer"


SCOPE_FIELD = {
    Role.PLANT: "unit_id",
    Role.TECHNICIAN: "technician_id",
    Role.CUSTOMER: "customer_id",
}


class Principal(Base):
    __tablename__ = "principals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    unit_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    technician_id: Mapped[str | None] = mapped_column(String(64), default=None)
    customer_id: Mapped[str | None] = mapped_column(String(64), default=None)
    key_id: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who is calling, as every service function sees it."""

    principal_id: int
    name: str
    role: Role
    unit_id: str | None = None
    technician_id: str | None = None
    customer_id: str | None = None

    @property
    def is_coordinator(self) -> bool:
        return self.role is Role.COORDINATOR


class PrincipalCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=200)]
    role: Role
    unit_id: Identifier | None = None
    technician_id: Identifier | None = None
    customer_id: Identifier | None = None

    @model_validator(mode="after")
    def _scope_matches_role(self) -> PrincipalCreate:
        wanted = SCOPE_FIELD.get(self.role)
        for field in SCOPE_FIELD.values():
            value = getattr(self, field)
            if field == wanted and value is None:
                raise ValueError(f"a {self.role.value} principal needs {field}")
            if field != wanted and value is not None:
                raise ValueError(f"{field} does not apply to a {self.role.value} principal")
        return self


class PrincipalRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    unit_id: str | None
    technician_id: str | None
    customer_id: str | None
    active: bool
    created_at: datetime


class PrincipalCreated(PrincipalRead):
    api_key: str = Field(description="shown once; only its hash is stored")


class SessionLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    api_key: Annotated[str, Field(min_length=1, max_length=200)]
