"""Registry tables (networks, units, machines, technicians, transport times, plant calendars)
and API schemas."""

from __future__ import annotations

import re
import zoneinfo
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import JSON, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cloud.database import Base, UtcDateTime, utcnow
from cloud.geo import Country
from protocols.enums import ProcessKind
from protocols.topics import IDENTIFIER_PATTERN, RESERVED_UNIT_IDS

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN.pattern)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Text = Annotated[str, Field(max_length=2000)]
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]
ParameterValue = bool | int | Annotated[float, Field(allow_inf_nan=False)] | Name
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_CLOCK_END = re.compile(r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$")


class NetworkKind(StrEnum):
    STABLE = "stable"
    DYNAMIC = "dynamic"
    TEMPORARY_JOINT_VENTURE = "temporary_joint_venture"
    SHARED_SERVICE_CENTRE = "shared_service_centre"


# Tables -------------------------------------------------------------------------------------


class Network(Base):
    __tablename__ = "networks"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(2000), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Unit(Base):
    __tablename__ = "units"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id", ondelete="CASCADE"))
    company: Mapped[str] = mapped_column(String(200))
    site: Mapped[str] = mapped_column(String(200), default="")
    # ISO 3166-1 alpha-2; None: not known, so never counted as in a local-content rule's country.
    country: Mapped[str | None] = mapped_column(String(2), default=None)
    latitude: Mapped[float] = mapped_column(Float)
    longitude: Mapped[float] = mapped_column(Float)
    certifications: Mapped[list[str]] = mapped_column(JSON, default=list)
    processes: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    sharing_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    mqtt_password_hash: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Machine(Base):
    __tablename__ = "machines"
    __table_args__ = (UniqueConstraint("unit_id", "machine"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    unit_id: Mapped[str] = mapped_column(ForeignKey("units.id", ondelete="CASCADE"), index=True)
    machine: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    asset_kind: Mapped[str] = mapped_column(String(20), default="machine")
    manufacturer: Mapped[str] = mapped_column(String(200), default="")
    model: Mapped[str] = mapped_column(String(200), default="")
    serial_number: Mapped[str] = mapped_column(String(200), default="")
    capabilities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    metrics: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    max_job_orders: Mapped[int] = mapped_column(Integer, default=0)
    static_data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    announced_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)


class Technician(Base):
    __tablename__ = "technicians"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    employer_unit_id: Mapped[str] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), index=True
    )
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    home_latitude: Mapped[float] = mapped_column(Float)
    home_longitude: Mapped[float] = mapped_column(Float)
    working_hours: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    mqtt_password_hash: Mapped[str | None] = mapped_column(String(300), default=None)


class PlantCalendar(Base):
    """When a plant works, in its own time zone (see :class:`PlantCalendarSet`)."""

    __tablename__ = "plant_calendars"

    unit_id: Mapped[str] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), primary_key=True
    )
    timezone: Mapped[str] = mapped_column(String(64))
    shifts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)
    openings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    lights_out: Mapped[list[str]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class PlantOperator(Base):
    """A person who runs or sets up a plant's machines (see :class:`OperatorSet`)."""

    __tablename__ = "plant_operators"

    unit_id: Mapped[str] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), primary_key=True
    )
    operator_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    skills: Mapped[list[str]] = mapped_column(JSON, default=list)
    shifts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class TransportTime(Base):
    __tablename__ = "transport_times"

    from_unit_id: Mapped[str] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), primary_key=True
    )
    to_unit_id: Mapped[str] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), primary_key=True
    )
    hours: Mapped[float] = mapped_column(Float)


class MemberRate(Base):
    """What a member charges for one process: per machine hour (plant time) and per operation
    for its setup, in its sharing policy's currency. A process without a row is charged at the
    policy's ``hourly_rate`` with no setup cost (see :mod:`cloud.orders.pricing`)."""

    __tablename__ = "member_rates"

    unit_id: Mapped[str] = mapped_column(
        ForeignKey("units.id", ondelete="CASCADE"), primary_key=True
    )
    process: Mapped[str] = mapped_column(String(32), primary_key=True)
    hourly_rate: Mapped[float] = mapped_column(Float)
    setup_cost: Mapped[float] = mapped_column(Float, default=0.0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


# Schemas ------------------------------------------------------------------------------------


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)


def _without_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def omittable() -> Any:
    """A field of a PATCH body: left out, the stored value stays; ``null`` is refused (422),
    since none of these may be empty. Typed by its annotation, not ``| None``."""
    return Field(default=None, json_schema_extra=_without_default)


class NetworkCreate(Schema):
    id: Identifier
    name: Name
    kind: NetworkKind
    description: Text = ""


class NetworkUpdate(Schema):
    name: Name = omittable()
    kind: NetworkKind = omittable()
    description: Text = omittable()


class NetworkRead(NetworkCreate):
    model_config = ConfigDict(extra="ignore", from_attributes=True)
    created_at: datetime


class Process(Schema):
    process: ProcessKind
    parameters: Annotated[dict[Name, ParameterValue], Field(max_length=64)] = Field(
        default_factory=dict
    )


class SharingPolicy(Schema):
    """What a member shares with the network; prices stay visible to the coordinator only.

    ``share_telemetry: false`` (the default) is enforced: the coordinator keeps of that member's
    telemetry only what dispatch and maintenance need (per-minute rollups for the alert rules,
    the latest value of each metric), stores no raw samples (neither embedded nor InfluxDB), and
    shows rollups and latest values to that member's own plant alone."""

    share_capacity: bool = True
    share_telemetry: bool = Field(
        default=False,
        description="false: no raw samples are stored, and the member's rollups and latest"
        " values are shown to no one else (the coordinator included)",
    )
    hourly_rate: Annotated[float, Field(ge=0, allow_inf_nan=False)] | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] = "EUR"
    max_order_share: Annotated[float, Field(gt=0, le=1)] | None = Field(
        default=None, description="the most of one order's work (by duration) this member takes"
    )


def shares_telemetry(policy: dict[str, Any]) -> bool:
    """Whether a stored sharing policy lets the network keep and see the member's telemetry."""
    return policy.get("share_telemetry") is True


UNIT_COUNTRY = (
    "where the unit is (ISO 3166-1 alpha-2, e.g. IT); null: not known, and then the unit never"
    " counts as in the country of a local-content rule"
)


class UnitFields(Schema):
    company: Name
    site: Annotated[str, Field(max_length=200)] = ""
    country: Country | None = Field(default=None, description=UNIT_COUNTRY)
    latitude: Latitude
    longitude: Longitude
    certifications: Annotated[list[Name], Field(max_length=50)] = Field(default_factory=list)
    processes: Annotated[list[Process], Field(max_length=50)] = Field(default_factory=list)
    sharing_policy: SharingPolicy = Field(default_factory=SharingPolicy)


class UnitCreate(UnitFields):
    id: Identifier
    network_id: Identifier

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_UNIT_IDS:
            raise ValueError(f"unit id {value!r} is reserved")
        return value


class UnitUpdate(Schema):
    company: Name = omittable()
    site: Annotated[str, Field(max_length=200)] = omittable()
    country: Country | None = Field(
        default=None, description=UNIT_COUNTRY, json_schema_extra=_without_default
    )
    latitude: Latitude = omittable()
    longitude: Longitude = omittable()
    certifications: Annotated[list[Name], Field(max_length=50)] = omittable()
    processes: Annotated[list[Process], Field(max_length=50)] = omittable()
    sharing_policy: SharingPolicy = omittable()


class UnitRead(UnitCreate):
    model_config = ConfigDict(extra="ignore", from_attributes=True)
    created_at: datetime
    has_mqtt_credentials: bool = False


class MqttCredentials(BaseModel):
    username: str
    password: str = Field(description="shown once; only its hash is stored")


SPEED_FACTOR = "speed_factor"


class MachineStatic(Schema):
    """Data the coordinator adds to what the gateway announces (e.g. hourly cost, location).
    ``static_data["speed_factor"]``: how long the machine takes against the nominal durations
    (1.3: 30 % longer); the planner uses it."""

    name: Name = omittable()
    static_data: Annotated[dict[Name, ParameterValue], Field(max_length=64)] = Field(
        default_factory=dict
    )

    @field_validator("static_data")
    @classmethod
    def _speed_factor(cls, value: dict[str, Any]) -> dict[str, Any]:
        factor = value.get(SPEED_FACTOR)
        if factor is not None and (
            isinstance(factor, bool) or not isinstance(factor, int | float) or not 0 < factor <= 100
        ):
            raise ValueError(f"{SPEED_FACTOR} must be a number in (0, 100], got {factor!r}")
        return value


class MachineCreate(MachineStatic):
    machine: Identifier
    name: Name


class MachineRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    unit_id: str
    machine: str
    name: str
    asset_kind: str
    manufacturer: str
    model: str
    serial_number: str
    capabilities: list[dict[str, Any]]
    metrics: list[dict[str, Any]]
    max_job_orders: int
    static_data: dict[str, Any]
    announced_at: datetime | None


class WorkingHours(Schema):
    weekday: Annotated[int, Field(ge=0, le=6, description="0 = Monday")]
    start: str
    end: str

    @field_validator("start", "end")
    @classmethod
    def _clock(cls, value: str) -> str:
        if not _CLOCK.fullmatch(value):
            raise ValueError("must be HH:MM (24 h)")
        return value


class TechnicianFields(Schema):
    name: Name
    skills: Annotated[list[Name], Field(max_length=50)] = Field(default_factory=list)
    home_latitude: Latitude
    home_longitude: Longitude
    working_hours: Annotated[list[WorkingHours], Field(max_length=50)] = Field(default_factory=list)


class TechnicianCreate(TechnicianFields):
    id: Identifier
    employer_unit_id: Identifier


class TechnicianUpdate(Schema):
    name: Name = omittable()
    skills: Annotated[list[Name], Field(max_length=50)] = omittable()
    home_latitude: Latitude = omittable()
    home_longitude: Longitude = omittable()
    working_hours: Annotated[list[WorkingHours], Field(max_length=50)] = omittable()


class TechnicianRead(TechnicianCreate):
    model_config = ConfigDict(extra="ignore", from_attributes=True)


class TransportTimeSet(Schema):
    from_unit_id: Identifier
    to_unit_id: Identifier
    hours: Annotated[float, Field(gt=0, le=24 * 60, allow_inf_nan=False)]


MAX_RATE = 1e6
"""An hourly rate or setup cost above this is a typing mistake, not a price."""
Money = Annotated[float, Field(ge=0, le=MAX_RATE, allow_inf_nan=False)]


class MemberRateSet(Schema):
    hourly_rate: Money = Field(description="per machine hour, in the member's currency")
    setup_cost: Money = Field(default=0.0, description="per operation, for its setup")


class MemberRateRead(MemberRateSet):
    model_config = ConfigDict(extra="ignore", from_attributes=True)
    unit_id: str
    process: ProcessKind
    updated_at: datetime


class TransportTimeRead(BaseModel):
    from_unit_id: str
    to_unit_id: str
    hours: float
    derived: bool = Field(description="true when estimated from the distance between the units")


def _clock(value: str) -> str:
    if not _CLOCK.fullmatch(value):
        raise ValueError("must be HH:MM (24 h)")
    return value


def _clock_end(value: str) -> str:
    if not _CLOCK_END.fullmatch(value):
        raise ValueError("must be HH:MM (24 h, or 24:00)")
    return value


Clock = Annotated[str, AfterValidator(_clock)]
ClockEnd = Annotated[str, AfterValidator(_clock_end)]


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


class Shift(Schema):
    """A shift starting on ``weekday`` at ``start`` (local time); an ``end`` at or before the start
    ends on the next day (a night shift)."""

    weekday: Annotated[int, Field(ge=0, le=6, description="0 = Monday")]
    start: Clock
    end: ClockEnd

    def minutes(self) -> tuple[int, int]:
        """Start and end in minutes from the weekday's midnight (the end may pass 24 h)."""
        start, end = _minutes(self.start), _minutes(self.end)
        return start, end if end > start else end + 24 * 60


class Opening(Schema):
    """An exceptional opening on a local date (a Saturday to catch up, a shift on a holiday)."""

    date: date
    start: Clock
    end: ClockEnd

    def minutes(self) -> tuple[int, int]:
        """Start and end in minutes from the date's midnight."""
        return _minutes(self.start), _minutes(self.end)

    @model_validator(mode="after")
    def _ordered(self) -> Opening:
        if _minutes(self.end) <= _minutes(self.start):
            raise ValueError(f"opening on {self.date}: end {self.end} must be after {self.start}")
        return self


class PlantCalendarSet(Schema):
    """A plant's working time in its time zone: weekly shifts, holidays (dates whose shifts do not
    run) and exceptional openings. Machines listed in ``lights_out`` ignore it and run around the
    clock."""

    timezone: Annotated[str, Field(max_length=64, examples=["Europe/Rome"])]
    shifts: Annotated[list[Shift], Field(max_length=50)] = Field(default_factory=list)
    holidays: Annotated[list[date], Field(max_length=400)] = Field(default_factory=list)
    openings: Annotated[list[Opening], Field(max_length=400)] = Field(default_factory=list)
    lights_out: Annotated[list[Identifier], Field(max_length=200)] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r} (an IANA name like Europe/Rome)"
            ) from None
        return value

    @model_validator(mode="after")
    def _no_overlaps(self) -> PlantCalendarSet:
        week = 7 * 24 * 60
        spans = sorted(
            (shift.weekday * 24 * 60 + start, shift.weekday * 24 * 60 + end, shift)
            for shift in self.shifts
            for start, end in [shift.minutes()]
        )
        # On the week's circle: the last shift may run over into Monday.
        for (_, end, shift), (start, _, following) in zip(
            spans, [*spans[1:], *((s + week, e + week, x) for s, e, x in spans[:1])], strict=True
        ):
            if len(spans) > 1 and start < end:
                raise ValueError(
                    f"shift {shift.weekday} {shift.start}-{shift.end} overlaps shift "
                    f"{following.weekday} {following.start}-{following.end}"
                )
        return self


MAX_OPERATOR_SKILLS = 64


class OperatorSet(Schema):
    """An operator of a plant: the skills the family data's steps may ask for (``welding``,
    ``painting``…) and their weekly roster, in the plant calendar's time zone (UTC without one);
    the plant's holidays are theirs too. No shifts: on shift whenever the plant is open."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    skills: Annotated[list[Identifier], Field(min_length=1, max_length=MAX_OPERATOR_SKILLS)]
    shifts: Annotated[list[Shift], Field(max_length=50)] = Field(default_factory=list)

    @model_validator(mode="after")
    def _roster_is_a_calendar(self) -> OperatorSet:
        # The same rules as a plant's shifts (no overlaps): checked by the calendar model.
        PlantCalendarSet(timezone="UTC", shifts=self.shifts)
        return self


class OperatorRead(OperatorSet):
    model_config = ConfigDict(extra="ignore", from_attributes=True)
    unit_id: str
    operator_id: str
    updated_at: datetime


class PlantCalendarRead(PlantCalendarSet):
    model_config = ConfigDict(extra="ignore", from_attributes=True)
    unit_id: str
    updated_at: datetime
