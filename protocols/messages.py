"""Pydantic models of every message that crosses between gateways and the coordinator.

Every payload is an envelope: ``schema`` (message name), ``version`` (``MAJOR.MINOR``), ``id``
(a message id that sorts by time), ``unit`` (the sender), ``seq`` (a per-unit sequence number
that survives restarts), ``sent_at`` (UTC) and a typed ``body``.

Unknown fields are refused, except in a message of a newer minor version than this one, where
they are ignored (see :mod:`protocols.codec`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from protocols.enums import (
    AlarmSource,
    AlarmState,
    AlertAction,
    JobEventKind,
    JobOrderParameter,
    JobOrderState,
    MachineryItemState,
    MachineryOperationMode,
    ProcessKind,
    Quality,
    ReplyAction,
    UnitStatus,
)
from protocols.ids import MESSAGE_ID_PATTERN, new_message_id
from protocols.topics import IDENTIFIER_PATTERN

PROTOCOL_MAJOR = 1
PROTOCOL_MINOR = 3
PROTOCOL_VERSION = f"{PROTOCOL_MAJOR}.{PROTOCOL_MINOR}"

Identifier = Annotated[str, Field(pattern=IDENTIFIER_PATTERN.pattern)]
TEXT_PATTERN = r"^[^\x00]*$"
"""Text may hold any character but NUL, which PostgreSQL cannot store. (Lone surrogates cannot
reach a model: they are not UTF-8, and the codec's JSON parser refuses them escaped.)"""
ShortText = Annotated[str, Field(max_length=200, pattern=TEXT_PATTERN)]
LongText = Annotated[str, Field(max_length=2000, pattern=TEXT_PATTERN)]
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
"""Every float of the contract is finite: NaN and ±infinity are refused (as the JSON literals
``NaN``/``Infinity``, and as numbers too large for a double, such as ``1e400``)."""
EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
Timestamp = Annotated[AwareDatetime, Field(ge=EARLIEST_TIME, le=LATEST_TIME)]
"""Every time of the contract: aware, and within 1970..9999 once converted to UTC, so that
any receiver can convert and store it (``9999-12-31T23:59:59-14:00`` is in year 10000 in UTC,
``0001-01-01T00:00:00+14:00`` in year 0: both are refused)."""
COUNT_END = 2**31
Count = Annotated[int, Field(ge=0, lt=COUNT_END)]
"""A count (free slots, quantities): non-negative, within a database INTEGER."""
TICKET_ID_PATTERN = r"^[0-9]{1,18}$"
TicketId = Annotated[str, Field(pattern=TICKET_ID_PATTERN)]
"""A maintenance ticket's id: ASCII digits only (``"²"`` is a digit to ``str.isdigit``, not to
``int``), at most 18 of them (within 64 bits)."""
SAMPLE_INTEGER_MIN, SAMPLE_INTEGER_END = -(2**63), 2**64
"""An integer reading lies in ``[MIN, END)``: OPC UA's widest integers are Int64 and UInt64 (a
larger one is no reading, and no number the coordinator could store)."""
SampleInteger = Annotated[int, Field(ge=SAMPLE_INTEGER_MIN, lt=SAMPLE_INTEGER_END)]
ParameterValue = bool | SampleInteger | FiniteFloat | ShortText
Parameters = Annotated[dict[ShortText, ParameterValue], Field(max_length=64)]


class Model(BaseModel):
    """Base of all message parts: immutable, no NaN or infinity, unknown fields refused.

    ``extra="forbid"`` and the float check are enforced by pydantic-core itself, with no Python
    code per object: a telemetry batch holds thousands of samples. The codec relaxes ``extra``
    to ``"ignore"`` for a message of a newer minor version than this one.
    """

    model_config = ConfigDict(
        frozen=True, extra="forbid", allow_inf_nan=False, populate_by_name=True
    )


# Bodies ---------------------------------------------------------------------------------------


class Availability(Model):
    """A unit's (or the coordinator's) online/offline state; offline is also the MQTT will."""

    state: UnitStatus
    reason: ShortText | None = None


class MetricDescription(Model):
    name: Identifier
    unit: Annotated[str, Field(max_length=32)] = ""
    description: ShortText = ""
    missing: ShortText | None = None
    """Why the metric's node could not be monitored (since 1.2); ``None`` while it is live."""


class Capability(Model):
    """A process a machine offers, with its parameters (e.g. ``max_sheet_thickness_mm``)."""

    process: ProcessKind
    parameters: Parameters = Field(default_factory=dict)


class MachineDescription(Model):
    machine: Identifier
    name: ShortText
    asset_kind: Literal["machine", "product"] = "machine"
    manufacturer: ShortText = ""
    model: ShortText = ""
    serial_number: ShortText = ""
    capabilities: Annotated[list[Capability], Field(max_length=32)] = Field(default_factory=list)
    metrics: Annotated[list[MetricDescription], Field(max_length=256)] = Field(default_factory=list)
    max_job_orders: Count = 0


class UnitDescription(Model):
    """What a gateway announces on every (re)connect: its machines, capabilities and metrics."""

    gateway_version: ShortText
    machines: Annotated[list[MachineDescription], Field(max_length=1000)]


class UnmappedValue(Model):
    """A vendor value the gateway's mapping does not translate (since 1.2)."""

    variable: Literal["state", "mode"]
    value: ShortText


class CapacityReport(Model):
    machine: Identifier
    available: bool
    state: MachineryItemState
    mode: MachineryOperationMode
    running_job_order: Identifier | None = None
    stored_job_orders: Annotated[list[Identifier], Field(max_length=1000)] = Field(
        default_factory=list
    )
    free_slots: Count
    queue_free_at: Timestamp
    reported_at: Timestamp
    unmapped_values: Annotated[list[UnmappedValue], Field(max_length=32)] = Field(
        default_factory=list
    )
    outbox_depth: Count | None = None
    """Messages waiting in the gateway's disk outbox when the report was made, the same for
    every machine of the unit (since 1.3): the coordinator shows it on the gateway's health.
    ``None`` from a gateway that does not say."""


STATUS_CODE_END, MAX_STATUS_NAME = 2**32, 64
StatusCodeNumber = Annotated[int, Field(ge=0, lt=STATUS_CODE_END)]
StatusCodeName = Annotated[str, Field(max_length=MAX_STATUS_NAME, pattern=TEXT_PATTERN)]


class Sample(Model):
    """One reading. ``value`` is ``None`` when the server gave none (a Bad sample, since 1.2).

    ``status_code`` and ``status`` (since 1.2) are the full OPC UA StatusCode (its number, info
    bits included, and its symbolic name, e.g. ``2150891520`` / ``BadSensorFailure``); they are
    left out for a plain ``Good`` (0).
    """

    machine: Identifier
    metric: Identifier
    value: bool | SampleInteger | FiniteFloat | ShortText | None
    source_time: Timestamp
    quality: Quality = Quality.GOOD
    status_code: StatusCodeNumber | None = None
    status: StatusCodeName | None = None


class TelemetryBatch(Model):
    samples: Annotated[list[Sample], Field(min_length=1, max_length=20000)]


class JobEvent(Model):
    """A change of a job order on a machine (OPC 10031-4 state + response data)."""

    machine: Identifier
    job_order_id: Identifier
    event: JobEventKind
    state: JobOrderState | None = None
    reason: LongText | None = None
    return_status: Annotated[int, Field(ge=0, lt=2**64)] | None = None
    progress: Annotated[float, Field(ge=0.0, le=1.0)] | None = None
    produced_quantity: Count | None = None
    actual_start: Timestamp | None = None
    actual_end: Timestamp | None = None
    occurred_at: Timestamp


class AlarmEvent(Model):
    """An alarm raised or cleared on an asset (a machine or a field product)."""

    asset: Identifier
    alarm_id: ShortText
    code: Identifier
    state: AlarmState
    severity: Annotated[int, Field(ge=1, le=1000)]
    text: LongText
    source: AlarmSource
    metric: Identifier | None = None
    value: FiniteFloat | None = None
    occurred_at: Timestamp


MAX_JOB_QUANTITY = 1_000_000
"""The most parts one job order may ask for: a coordinator never asks for more (a call for
tenders' line is bounded by it), a gateway and a machine refuse more."""


class JobOrder(Model):
    """One operation to run on one machine (an ISA-95 job order). ``quantity``: the parts it
    makes, as one batch (its ``planned_duration_s`` is the whole batch's)."""

    job_order_id: Identifier
    machine: Identifier
    operation: ShortText
    process: ProcessKind
    quantity: Annotated[int, Field(ge=1, le=MAX_JOB_QUANTITY)] = 1
    planned_duration_s: Annotated[float, Field(gt=0, le=365 * 86400, allow_inf_nan=False)]
    parameters: Parameters = Field(default_factory=dict)
    start: bool = True
    planned_start: Timestamp | None = None
    order_id: ShortText | None = None


def setup_parameters(family: str, setup_s: Mapping[str, float]) -> dict[str, ParameterValue]:
    """A job order's parameters for its change-over: its setup ``family`` and the seconds it
    takes after a job of another family (``setup_s``: by that family, ``"*"`` for any other)."""
    found: dict[str, ParameterValue] = {JobOrderParameter.SETUP_FAMILY.value: family}
    for before, seconds in setup_s.items():
        name = JobOrderParameter.SETUP_S.value
        found[name if before == "*" else f"{name}.{before}"] = float(seconds)
    return found


def setup_after(parameters: Mapping[str, ParameterValue], previous: str | None) -> float:
    """Seconds of change-over a job order with ``parameters`` needs after a job of family
    ``previous`` on the same machine: none within a family, when either has no family (as the
    plan counts them), or when the job order says nothing of it."""
    family = parameters.get(JobOrderParameter.SETUP_FAMILY.value)
    if previous is None or not isinstance(family, str) or family == previous:
        return 0.0
    name = JobOrderParameter.SETUP_S.value
    seconds = parameters.get(f"{name}.{previous}", parameters.get(name, 0.0))
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        return 0.0
    return float(seconds)


class DispatchCommand(Model):
    kind: Literal["dispatch"] = "dispatch"
    job_orders: Annotated[list[JobOrder], Field(min_length=1, max_length=200)]


class CancelCommand(Model):
    kind: Literal["cancel"] = "cancel"
    machine: Identifier
    job_order_id: Identifier


class RebirthCommand(Model):
    kind: Literal["rebirth"] = "rebirth"


class RepairCommand(Model):
    """Ask a gateway to run the machine's repair/maintenance reset (after a ticket is resolved)."""

    kind: Literal["repair"] = "repair"
    machine: Identifier
    ticket_id: ShortText | None = None


class AcknowledgeCommand(Model):
    """Acknowledge a machine's alarm conditions, because their ticket was acknowledged at the
    coordinator (since 1.2). ``codes`` are the alarm codes the machine reported."""

    kind: Literal["acknowledge"] = "acknowledge"
    machine: Identifier
    codes: Annotated[list[Identifier], Field(min_length=1, max_length=64)]
    ticket_id: ShortText | None = None
    comment: ShortText = ""


CommandBody = Annotated[
    DispatchCommand | CancelCommand | RebirthCommand | RepairCommand | AcknowledgeCommand,
    Field(discriminator="kind"),
]


class AlertNotice(Model):
    """What a technician's device receives about a maintenance ticket."""

    ticket_id: ShortText
    action: AlertAction
    asset: Identifier
    asset_unit: Identifier | None = None
    severity: Annotated[int, Field(ge=1, le=1000)]
    title: ShortText
    text: LongText = ""
    due_at: Timestamp | None = None


class ReplyNotice(Model):
    """A technician's answer about a ticket: acknowledge it, start the work, or resolve it."""

    ticket_id: TicketId
    action: ReplyAction
    note: LongText = ""


# Envelopes ------------------------------------------------------------------------------------


class Envelope(Model):
    """The common header of every message; subclasses fix ``schema`` and type ``body``."""

    SCHEMA: ClassVar[str] = ""

    schema_: str = Field(alias="schema")
    version: Annotated[str, Field(pattern=r"^\d{1,4}\.\d{1,4}$")]
    id: Annotated[str, Field(pattern=MESSAGE_ID_PATTERN)]
    unit: Identifier
    seq: Annotated[int, Field(ge=0, lt=2**63)]
    sent_at: Timestamp
    body: Any

    @classmethod
    def create(
        cls,
        *,
        unit: str,
        seq: int,
        body: Any,
        message_id: str | None = None,
        sent_at: datetime | None = None,
    ) -> Self:
        """A new message of this type with a fresh id and the current UTC time."""
        return cls.model_validate(
            {
                "schema": cls.SCHEMA,
                "version": PROTOCOL_VERSION,
                "id": message_id or new_message_id(),
                "unit": unit,
                "seq": seq,
                "sent_at": sent_at or datetime.now(UTC),
                "body": body,
            }
        )


class UnitState(Envelope):
    SCHEMA: ClassVar[str] = "unit_state"
    schema_: Literal["unit_state"] = Field(alias="schema")
    body: Availability


class UnitBirth(Envelope):
    SCHEMA: ClassVar[str] = "unit_birth"
    schema_: Literal["unit_birth"] = Field(alias="schema")
    body: UnitDescription


class Capacity(Envelope):
    SCHEMA: ClassVar[str] = "capacity"
    schema_: Literal["capacity"] = Field(alias="schema")
    body: CapacityReport


class Telemetry(Envelope):
    SCHEMA: ClassVar[str] = "telemetry"
    schema_: Literal["telemetry"] = Field(alias="schema")
    body: TelemetryBatch


class JobStatus(Envelope):
    SCHEMA: ClassVar[str] = "job_status"
    schema_: Literal["job_status"] = Field(alias="schema")
    body: JobEvent


class Alarm(Envelope):
    SCHEMA: ClassVar[str] = "alarm"
    schema_: Literal["alarm"] = Field(alias="schema")
    body: AlarmEvent


class Command(Envelope):
    SCHEMA: ClassVar[str] = "command"
    schema_: Literal["command"] = Field(alias="schema")
    body: CommandBody


class CoordinatorState(Envelope):
    SCHEMA: ClassVar[str] = "coordinator_state"
    schema_: Literal["coordinator_state"] = Field(alias="schema")
    unit: Literal["coordinator"]
    body: Availability


class TechnicianAlert(Envelope):
    SCHEMA: ClassVar[str] = "technician_alert"
    schema_: Literal["technician_alert"] = Field(alias="schema")
    body: AlertNotice


class TechnicianReply(Envelope):
    """Sent by a technician's device; ``unit`` is the technician id (the sender)."""

    SCHEMA: ClassVar[str] = "technician_reply"
    schema_: Literal["technician_reply"] = Field(alias="schema")
    body: ReplyNotice


MESSAGE_TYPES: dict[str, type[Envelope]] = {
    cls.SCHEMA: cls
    for cls in (
        UnitState,
        UnitBirth,
        Capacity,
        Telemetry,
        JobStatus,
        Alarm,
        Command,
        CoordinatorState,
        TechnicianAlert,
        TechnicianReply,
    )
}
