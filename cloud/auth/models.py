"""Principals (API callers) with their roles and their scope: gateways and scripts hold hashed
API keys, people a username and an argon2 password, page sessions and invitations."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import Boolean, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, StoredEnum, UtcDateTime, utcnow
from protocols.topics import IDENTIFIER_PATTERN

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN.pattern)]
USERNAME_PATTERN = r"^[a-z0-9][a-z0-9_.-]{1,63}$"
Username = Annotated[
    str,
    Field(
        pattern=USERNAME_PATTERN,
        description="2 to 64 of a-z, 0-9, '_', '.', '-', starting with a letter or digit",
    ),
]
MIN_PASSWORD = 10
MAX_PASSWORD = 256  # argon2 hashes any length; a bound keeps a sign-in cheap to refuse
Password = Annotated[str, Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)]
EMAIL_PATTERN = r"^[^@\s<>,;]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$"
Email = Annotated[str, Field(pattern=EMAIL_PATTERN, max_length=254)]


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
    role: Mapped[Role] = mapped_column(StoredEnum(Role, 20))
    unit_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    technician_id: Mapped[str | None] = mapped_column(String(64), default=None)
    customer_id: Mapped[str | None] = mapped_column(String(64), default=None)
    key_id: Mapped[str | None] = mapped_column(String(32), unique=True, default=None)
    key_hash: Mapped[str | None] = mapped_column(String(128), default=None)
    username: Mapped[str | None] = mapped_column(String(64), unique=True, default=None)
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    email: Mapped[str | None] = mapped_column(String(254), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebSession(Base):
    """A signed-in browser: the cookie holds the token, the row only its SHA-256 digest.

    Over after ``idle`` without a request, or at ``expires_at`` however busy; signing out,
    a reset of access and revoking the principal delete it.
    """

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    idle_s: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


class Invitation(Base):
    """A link that lets a person set their password once, until it expires."""

    __tablename__ = "invitations"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal_id: Mapped[int] = mapped_column(
        ForeignKey("principals.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class SignInFailure(Base):
    """A failed sign-in, counted per username and per address to throttle guessing."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str | None] = mapped_column(String(64), index=True, default=None)
    address: Mapped[str] = mapped_column(String(64), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


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


class PersonCreate(PrincipalCreate):
    """A person who signs in on the pages; they set their password from an invitation."""

    username: Username
    email: Email | None = Field(default=None, description="where notifications go")


class PrincipalRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    username: str | None = None
    email: str | None = None
    unit_id: str | None
    technician_id: str | None
    customer_id: str | None
    active: bool
    created_at: datetime


class PersonStatus(StrEnum):
    """Where a person's access stands."""

    ACTIVE = "active"  # a password is set: they sign in
    INVITED = "invited"  # an invitation waits to be used
    INVITATION_EXPIRED = "invitation_expired"  # no password and no live invitation: reset it
    REVOKED = "revoked"


class PersonRead(PrincipalRead):
    status: PersonStatus
    invitation_expires_at: datetime | None = Field(
        default=None, description="when the waiting invitation's link stops working"
    )


class PrincipalCreated(PrincipalRead):
    api_key: str = Field(description="shown once; only its hash is stored")


class InvitationRead(BaseModel):
    principal_id: int
    username: str
    token: str = Field(description="shown once; only its hash is stored")
    url: str = Field(description="the page that sets the password, the token in its fragment")
    expires_at: datetime


class PersonInvited(PrincipalRead):
    invitation: InvitationRead


class SessionLogin(BaseModel):
    """Sign in with a username and password (people) or an API key (scripts, operators)."""

    model_config = ConfigDict(extra="forbid")

    username: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD)] | None = None
    api_key: Annotated[str, Field(min_length=1, max_length=200)] | None = None

    @model_validator(mode="after")
    def _one_way(self) -> SessionLogin:
        if self.api_key is not None:
            if self.username is not None or self.password is not None:
                raise ValueError("send a username and password, or an API key, not both")
        elif self.username is None or self.password is None:
            raise ValueError("send a username and a password")
        return self


class InvitationAccept(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Annotated[str, Field(min_length=1, max_length=200)]
    password: Password


class PasswordChange(BaseModel):
    """A signed-in person's new password, with the present one to show it is them."""

    model_config = ConfigDict(extra="forbid")

    current_password: Annotated[str, Field(min_length=1, max_length=MAX_PASSWORD)]
    new_password: Password
